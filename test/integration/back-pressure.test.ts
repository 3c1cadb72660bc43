import { connect } from 'node:net';
import {
  BUSYBOX,
  eventually,
  poolLevels,
  postRun,
  replicaContainers,
  run,
  waitForFullPool,
} from '../support/daemon-harness';
import { useReplica } from '../support/use-replica';

describe('load and back-pressure', () => {
  const replica = useReplica('back-pressure', {
    pools: [{ image: BUSYBOX, size: 2 }],
    maxConcurrentRuns: 1,
    maxQueuedRuns: 1,
  });

  it('answers 503 with Retry-After when the queue is full, before any container is taken', async () => {
    const running = postRun(replica.url, { image: BUSYBOX, main: 'sleep 2; echo first', maxSeconds: 10 });
    await eventually(async () => (await poolLevels(replica.url, BUSYBOX)).leased === 1, 10_000, 'first run under way');
    const queued = postRun(replica.url, { image: BUSYBOX, main: 'echo second', maxSeconds: 10 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = await poolLevels(replica.url, BUSYBOX);

    const refused = await fetch(`${replica.url}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: BUSYBOX, main: 'echo third' }),
    });

    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toMatch(/too many runs are waiting/);
    const after = await poolLevels(replica.url, BUSYBOX);
    expect({ hits: after.hits, misses: after.misses }).toEqual({ hits: before.hits, misses: before.misses });
    expect((await running).body.stdout.content).toBe('first\n');
    expect((await queued).body.stdout.content).toBe('second\n');
  });

  it("counts time spent queued against the run's deadline", async () => {
    await waitForFullPool(replica.url, BUSYBOX);
    const running = postRun(replica.url, { image: BUSYBOX, main: 'sleep 3', maxSeconds: 10 });
    await eventually(async () => (await poolLevels(replica.url, BUSYBOX)).leased === 1, 10_000, 'first run under way');

    const late = await run(replica.url, BUSYBOX, 'echo never', { maxSeconds: 1 });

    expect(late).toMatchObject({ outcome: 'timed_out', exitCode: null, stdout: { content: '' } });
    expect(late.timings.queuedMs).toBeGreaterThanOrEqual(1000);
    await running;
  });

  it('frees the slot and the container of a caller that hangs up', async () => {
    await waitForFullPool(replica.url, BUSYBOX);
    const caller = new AbortController();
    const abandoned = fetch(`${replica.url}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: BUSYBOX, main: 'sleep 30', maxSeconds: 60 }),
      signal: caller.signal,
    }).catch(() => 'hung up');
    await eventually(async () => (await poolLevels(replica.url, BUSYBOX)).leased === 1, 10_000, 'run under way');
    const leasedIds = (await replicaContainers(replica.config.replicaId))
      .filter((c) => c.State === 'running')
      .map((c) => c.Id);

    caller.abort();
    await abandoned;

    const startedAt = Date.now();
    const next = await run(replica.url, BUSYBOX, 'echo next');
    expect(next.stdout.content).toBe('next\n');
    expect(Date.now() - startedAt).toBeLessThan(5000);
    await eventually(
      async () => {
        const ids = (await replicaContainers(replica.config.replicaId)).map((c) => c.Id);
        return leasedIds.every((id) => !ids.includes(id));
      },
      10_000,
      "the abandoned run's container removed",
    );
  });

  it('closes the connection of a client that never finishes its headers', async () => {
    const { port } = new URL(replica.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write('POST /run HTTP/1.1\r\nHost: localhost\r\n');
    const startedAt = Date.now();

    const closed = await new Promise<string>((resolve) => {
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString();
      });
      socket.on('close', () => resolve(answer));
    });

    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(closed).toMatch(/^HTTP\/1.1 408|^$/);
  });
});
