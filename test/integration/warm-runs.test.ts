import {
  BUSYBOX,
  PYTHON,
  poolLevels,
  replicaContainers,
  run,
  waitForFullPool,
  eventually,
} from '../support/daemon-harness';
import { useReplica } from '../support/use-replica';

describe('runs served from a warm pool', () => {
  const replica = useReplica('warm', {
    pools: [
      { image: BUSYBOX, size: 2 },
      { image: PYTHON, size: 1 },
    ],
  });

  it('keeps the ready containers paused, labelled with the replica and the pool', async () => {
    const containers = await replicaContainers(replica.config.replicaId);
    const busybox = containers.filter((container) => container.Labels['warmpool.pool'] === BUSYBOX);

    expect(busybox).toHaveLength(2);
    for (const container of busybox) {
      expect(container.State).toBe('paused');
      expect(container.Status).toContain('(Paused)');
    }
  });

  it('answers a run from a ready container', async () => {
    const result = await run(replica.url, BUSYBOX, 'echo hello');

    expect(result).toMatchObject({
      stdout: { content: 'hello\n', truncated: false },
      stderr: { content: '', truncated: false },
      exitCode: 0,
      outcome: 'completed',
      warm: true,
    });
    expect(result.durationMs).toBeGreaterThan(0);
    expect(result.timings.checkoutMs + result.timings.executeMs).toBeLessThanOrEqual(result.timings.totalMs + 1);
  });

  it('refills the pool back to its size after a checkout', async () => {
    const before = await poolLevels(replica.url, BUSYBOX);
    await run(replica.url, BUSYBOX, 'true');
    await waitForFullPool(replica.url, BUSYBOX);

    const after = await poolLevels(replica.url, BUSYBOX);
    expect(after.hits).toBe(before.hits + 1);
    expect(after.created).toBeGreaterThanOrEqual(before.created + 1);
    await eventually(
      async () =>
        (await replicaContainers(replica.config.replicaId)).filter(
          (container) => container.Labels['warmpool.pool'] === BUSYBOX,
        ).length === 2,
      10_000,
      'used container removed',
    );
  });

  it('reports exit statuses, including a death by signal', async () => {
    expect((await run(replica.url, BUSYBOX, 'exit 0')).exitCode).toBe(0);
    expect((await run(replica.url, BUSYBOX, 'exit 3')).exitCode).toBe(3);

    const killed = await run(replica.url, BUSYBOX, 'kill -KILL $$');
    expect(killed).toMatchObject({ exitCode: 137, signal: 'SIGKILL', outcome: 'completed' });
  });

  it('keeps stdout and stderr apart, byte for byte', async () => {
    const result = await run(replica.url, BUSYBOX, 'printf out1; printf err1 >&2; printf "out2\\n"; printf "err2" >&2');

    expect(result.stdout.content).toBe('out1out2\n');
    expect(result.stderr.content).toBe('err1err2');
  });

  it('places the files under /sandbox and runs main.sh from there', async () => {
    const result = await run(replica.url, BUSYBOX, 'pwd; cat greeting.txt; cat "deep/er/name with spaces.txt"', {
      files: { 'greeting.txt': 'hi there\n', 'deep/er/name with spaces.txt': 'nested\n' },
    });

    expect(result.stdout.content).toBe('/sandbox\nhi there\nnested\n');
  });

  it('gives main.sh end-of-file on stdin', async () => {
    const result = await run(replica.url, BUSYBOX, 'cat; echo done');
    expect(result.stdout.content).toBe('done\n');
  });

  it('runs a Python program in the python image', async () => {
    const result = await run(replica.url, PYTHON, 'python3 hello.py', {
      files: { 'hello.py': 'import sys\nprint("sum", sum(range(10)))\nprint("oops", file=sys.stderr)\nsys.exit(4)\n' },
    });

    expect(result).toMatchObject({
      stdout: { content: 'sum 45\n' },
      stderr: { content: 'oops\n' },
      exitCode: 4,
      warm: true,
    });
  });

  it('answers eight concurrent runs, each with its own output', async () => {
    const runs = Array.from({ length: 8 }, (_, i) =>
      run(replica.url, i % 2 ? PYTHON : BUSYBOX, `echo run-${i}; exit ${i}`),
    );
    const results = await Promise.all(runs);

    results.forEach((result, i) => {
      expect(result.stdout.content).toBe(`run-${i}\n`);
      expect(result.exitCode).toBe(i);
    });
    await waitForFullPool(replica.url, BUSYBOX);
    await waitForFullPool(replica.url, PYTHON);
  });

  it('ends a run at its deadline and keeps the output written before it', async () => {
    const startedAt = Date.now();
    const result = await run(replica.url, BUSYBOX, 'echo before; echo err-before >&2; sleep 30; echo after', {
      maxSeconds: 1,
    });
    const elapsedMs = Date.now() - startedAt;

    expect(result).toMatchObject({
      outcome: 'timed_out',
      exitCode: null,
      stdout: { content: 'before\n' },
      stderr: { content: 'err-before\n' },
    });
    expect(elapsedMs).toBeGreaterThanOrEqual(1000);
    expect(elapsedMs).toBeLessThan(5000);
  });
});
