import { BUSYBOX, PYTHON, run, type RunningDaemon } from '../support/daemon-harness';
import { useReplica } from '../support/use-replica';

/** Runs `main` with a 1-second deadline and checks it ended as timed_out, on time, with its output. */
async function expectTimedOut(replica: RunningDaemon, image: string, main: string, before: string): Promise<void> {
  const startedAt = Date.now();
  const result = await run(replica.url, image, main, { maxSeconds: 1 });
  const elapsedMs = Date.now() - startedAt;

  expect(result).toMatchObject({ outcome: 'timed_out', exitCode: null, stdout: { content: before } });
  expect(elapsedMs).toBeGreaterThanOrEqual(1000);
  expect(elapsedMs).toBeLessThan(5000);
}

describe.each([BUSYBOX, PYTHON])('time and processes of hostile programs in %s', (image) => {
  const replica = useReplica('processes', { pools: [{ image, size: 2 }] }, { healthyAfterEach: true });

  it('ends the run when main.sh ends, killing what it left in the background', async () => {
    const startedAt = Date.now();
    const result = await run(replica.url, image, 'sleep 600 & (sleep 600 >&2 &) ; echo started', { maxSeconds: 30 });

    expect(result).toMatchObject({ outcome: 'completed', exitCode: 0, stdout: { content: 'started\n' } });
    expect(Date.now() - startedAt).toBeLessThan(5000);
  });

  it('ends a busy loop at the deadline', async () => {
    await expectTimedOut(replica, image, 'echo spinning; while :; do :; done', 'spinning\n');
  });

  it('ends a sleeping program at the deadline', async () => {
    await expectTimedOut(replica, image, 'echo sleeping; sleep 600', 'sleeping\n');
  });

  it('ends a program that stops itself with SIGSTOP at the deadline', async () => {
    await expectTimedOut(replica, image, 'echo stopping; kill -STOP $$; echo never', 'stopping\n');
  });

  it('ends a program that ignores SIGTERM at the deadline', async () => {
    await expectTimedOut(replica, image, 'trap "" TERM; echo stubborn; while :; do sleep 1; done', 'stubborn\n');
  });

  it('holds a fork bomb to the pids limit, inside its own container', async () => {
    const result = await run(replica.url, image, 'bomb() { bomb | bomb & }; bomb; sleep 2; echo survived', {
      maxSeconds: 10,
    });

    expect(['completed', 'timed_out']).toContain(result.outcome);
    expect(result.stderr.content + result.stdout.content).toMatch(/fork|Resource temporarily unavailable|survived/i);
  });

  it('cannot have more processes at once than the pids limit', async () => {
    // The loop runs in a subshell, which may die when fork fails; the outer shell then counts with
    // its own glob and echo, which need no fork.
    const result = await run(
      replica.url,
      image,
      ['(for i in $(seq 1 400); do sleep 30 & done) 2>/dev/null', 'set -- /proc/[0-9]*; echo "processes $#"'].join(
        '\n',
      ),
      { maxSeconds: 20 },
    );

    const count = Number(/processes (\d+)/.exec(result.stdout.content)?.[1]);
    expect(count).toBeGreaterThan(10);
    expect(count).toBeLessThanOrEqual(replica.config.pools[0].limits.pidsLimit);
  });

  it('reaps orphans, so a run that leaves many still works', async () => {
    const result = await run(
      replica.url,
      image,
      [
        'for i in $(seq 1 60); do (sleep 0.2 &) ; done',
        'sleep 1',
        'zombies=0',
        'for stat in /proc/[0-9]*/stat; do case "$(cat $stat 2>/dev/null)" in *") Z "*) zombies=$((zombies + 1));; esac; done',
        'echo "zombies $zombies"',
        'for i in $(seq 1 60); do (true &) ; done; echo still forking',
      ].join('\n'),
      { maxSeconds: 20 },
    );

    expect(result.stdout.content).toBe('zombies 0\nstill forking\n');
  });

  it("reports a death by signal as 128 + n with the signal's name", async () => {
    const result = await run(replica.url, image, 'kill -SEGV $$');

    expect(result).toMatchObject({ outcome: 'completed', exitCode: 139, signal: 'SIGSEGV' });
  });

  it('confines a program that fills a tmpfs to its own container (ENOSPC)', async () => {
    const result = await run(
      replica.url,
      image,
      [
        'for i in 1 2 3; do head -c 30000000 /dev/zero > /sandbox/fill$i || echo "fill$i failed"; done',
        'df -k /sandbox | tail -n 1',
      ].join('\n'),
      { returnFiles: false, maxSeconds: 20 },
    );

    expect(result.stdout.content).toContain('fill3 failed');
    // GNU head names ENOSPC; busybox head reports the failed write as an I/O error.
    expect(result.stderr.content).toMatch(/No space left on device|I\/O error/);
  });

  it('stops a single huge file at the file-size limit', async () => {
    const result = await run(
      replica.url,
      image,
      'head -c 100000000 /dev/zero > /tmp/huge; echo "status $?"; ls -l /tmp/huge',
      {
        maxSeconds: 20,
      },
    );

    const limitBytes = replica.config.pools[0].limits.fileSizeMb * 1024 * 1024;
    expect(result.stdout.content).toMatch(/status 153/);
    expect(result.stdout.content).toContain(` ${limitBytes} `);
  });
});

/** A program that wants far more memory than the limit, in each image's own terms. */
const MEMORY_HOG: Record<string, string> = {
  [PYTHON]: 'python3 -c "x = bytearray(512 * 1024 * 1024)"',
  // busybox sort keeps its input in memory, and zeros hold no newline to split it on.
  [BUSYBOX]: 'head -c 512000000 /dev/zero | sort > /dev/null',
};

describe.each([BUSYBOX, PYTHON])('memory in %s', (image) => {
  const replica = useReplica(
    'memory-limit',
    { pools: [{ image, size: 1, limits: { memoryMb: 128 } }] },
    { healthyAfterEach: true },
  );

  it('reports a program over the memory limit as oom, not as a bare 137', async () => {
    const result = await run(replica.url, image, `echo allocating; ${MEMORY_HOG[image]}`);

    expect(result).toMatchObject({
      outcome: 'oom',
      exitCode: 137,
      signal: 'SIGKILL',
      stdout: { content: 'allocating\n' },
    });
  });

  it('reports oom even when main.sh goes on after the killed program and ends well', async () => {
    const result = await run(replica.url, image, `${MEMORY_HOG[image]}; echo after`);

    expect(result).toMatchObject({ outcome: 'oom', exitCode: 0, stdout: { content: 'after\n' } });
  });

  it('does not mistake a plain SIGKILL for an oom', async () => {
    const result = await run(replica.url, image, 'kill -KILL $$');

    expect(result).toMatchObject({ outcome: 'completed', exitCode: 137 });
  });
});
