import {
  BUSYBOX,
  docker,
  eventually,
  poolLevels,
  removeReplicaContainers,
  replicaContainers,
  uniqueReplicaId,
  waitForFullPool,
} from '../support/daemon-harness';
import { buildDaemon, type DaemonProcess, spawnDaemon } from '../support/daemon-process';

const SIZE = 2;
const config = { pools: [{ image: BUSYBOX, size: SIZE }] };

async function listening(daemon: DaemonProcess): Promise<void> {
  await eventually(
    async () => {
      try {
        return (await fetch(`${daemon.url}/healthz`)).status === 200;
      } catch {
        return false;
      }
    },
    30_000,
    `daemon listening; its output: ${daemon.output()}`,
  );
}

/** A daemon process of `replicaId`, listening, with its pool full. */
async function startFull(replicaId: string): Promise<DaemonProcess> {
  const daemon = await spawnDaemon(replicaId, config);
  await listening(daemon);
  await waitForFullPool(daemon.url, BUSYBOX);
  return daemon;
}

/** Starts a run of `main` and leaves it going; the caller decides when to read the answer. */
function runUnderWay(daemon: DaemonProcess, main: string): Promise<Response> {
  return fetch(`${daemon.url}/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image: BUSYBOX, main, maxSeconds: 30 }),
  });
}

/** A container labelled as `replicaId`'s, left in the given state, as a crash would leave it. */
async function leftover(replicaId: string, state: 'created' | 'exited'): Promise<string> {
  const container = await docker.createContainer({
    Image: BUSYBOX,
    Cmd: ['true'],
    Labels: { 'warmpool.replica': replicaId, 'warmpool.pool': BUSYBOX },
    HostConfig: { NetworkMode: 'none' },
  });
  if (state === 'exited') {
    await container.start();
    await container.wait();
  }
  return container.id;
}

describe('a replica across crashes, restarts and shutdown', () => {
  const replicaId = uniqueReplicaId('lifecycle');
  const otherReplicaId = uniqueReplicaId('other');
  let daemon: DaemonProcess | undefined;

  beforeAll(() => buildDaemon());

  afterEach(() => {
    daemon?.child.kill('SIGKILL');
  });

  afterAll(async () => {
    await removeReplicaContainers(replicaId);
    await removeReplicaContainers(otherReplicaId);
  });

  it('after a kill -9 and a restart, holds exactly its pool size and never touches another replica', async () => {
    daemon = await startFull(replicaId);
    const beforeCrash = (await replicaContainers(replicaId)).map((container) => container.Id);

    daemon.child.kill('SIGKILL');
    await daemon.exited;
    expect(await replicaContainers(replicaId)).toHaveLength(SIZE);
    const created = await leftover(replicaId, 'created');
    const exited = await leftover(replicaId, 'exited');
    const foreign = await leftover(otherReplicaId, 'created');

    daemon = await startFull(replicaId);

    const afterRestart = (await replicaContainers(replicaId)).map((container) => container.Id);
    expect(afterRestart).toHaveLength(SIZE);
    for (const id of [...beforeCrash, created, exited]) expect(afterRestart).not.toContain(id);
    expect((await replicaContainers(otherReplicaId)).map((container) => container.Id)).toEqual([foreign]);
    expect((await poolLevels(daemon.url, BUSYBOX)).ready).toBe(SIZE);
  });

  it('on SIGTERM removes every container of the replica and exits 0', async () => {
    daemon = await startFull(replicaId);

    daemon.child.kill('SIGTERM');

    expect(await daemon.exited).toBe(0);
    expect(await replicaContainers(replicaId)).toHaveLength(0);
  });

  it('on a second signal stops at once, removes every container and exits 1', async () => {
    daemon = await startFull(replicaId);
    const answer = runUnderWay(daemon, 'sleep 20').then(
      (response) => response.status,
      () => 'hung up',
    );
    await eventually(async () => (await poolLevels(daemon!.url, BUSYBOX)).leased === 1, 10_000, 'run under way');

    daemon.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    daemon.child.kill('SIGTERM');

    expect(await daemon.exited).toBe(1);
    expect(await replicaContainers(replicaId)).toHaveLength(0);
    expect(await answer).not.toBe(200);
  });

  it('on SIGTERM lets a run under way finish before removing its container', async () => {
    daemon = await startFull(replicaId);

    const answer = runUnderWay(daemon, 'sleep 1; echo finished');
    await eventually(async () => (await poolLevels(daemon!.url, BUSYBOX)).leased === 1, 10_000, 'run under way');
    daemon.child.kill('SIGTERM');

    const result = (await (await answer).json()) as { stdout: { content: string } };
    expect(result.stdout.content).toBe('finished\n');
    expect(await daemon.exited).toBe(0);
    expect(await replicaContainers(replicaId)).toHaveLength(0);
  });
});
