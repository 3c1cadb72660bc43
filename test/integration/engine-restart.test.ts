import {
  BUSYBOX,
  engineState,
  eventually,
  poolLevels,
  postRun,
  removeReplicaContainers,
  replicaContainers,
  run,
  type RunningDaemon,
  startDaemon,
  waitForFullPool,
} from '../support/daemon-harness';
import { expectRefusedAtOnce } from '../support/expect-refused';
import { startLocalEngine, stopLocalEngine } from '../support/local-engine';

describe('an engine restart while the daemon runs', () => {
  let replica: RunningDaemon;

  beforeAll(async () => {
    replica = await startDaemon('engine-restart', { pools: [{ image: BUSYBOX, size: 2 }] });
    await waitForFullPool(replica.url, BUSYBOX);
  });

  afterAll(async () => {
    await startLocalEngine();
    await replica.stop();
    await removeReplicaContainers(replica.config.replicaId);
  });

  it('fails the runs in flight with a 5xx naming the engine, refuses new ones at once, then heals', async () => {
    const inFlight = postRun(replica.url, { image: BUSYBOX, main: 'echo started; sleep 20', maxSeconds: 30 });
    await eventually(async () => (await poolLevels(replica.url, BUSYBOX)).leased === 1, 10_000, 'run under way');

    await stopLocalEngine();

    const failed = await inFlight;
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(failed.body.error).toMatch(/engine/i);

    await eventually(async () => (await engineState(replica.url)) === 'down', 15_000, 'engine seen down');
    expect(await expectRefusedAtOnce(replica.url, BUSYBOX)).toMatch(/Docker Engine is not answering/);

    await startLocalEngine();
    await eventually(async () => (await engineState(replica.url)) === 'up', 30_000, 'engine seen up');
    await waitForFullPool(replica.url, BUSYBOX);

    const healed = await run(replica.url, BUSYBOX, 'echo healed');
    expect(healed).toMatchObject({ stdout: { content: 'healed\n' }, warm: true });
    await eventually(
      async () => (await replicaContainers(replica.config.replicaId)).length === 2,
      15_000,
      'only the refilled pool left',
    );
    const states = (await replicaContainers(replica.config.replicaId)).map((container) => container.State);
    expect(states).toEqual(['paused', 'paused']);
  });
});
