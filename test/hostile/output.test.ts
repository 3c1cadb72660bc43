import { resolve } from 'node:path';
import {
  BUSYBOX,
  eventually,
  PYTHON,
  removeReplicaContainers,
  run,
  uniqueReplicaId,
  waitForFullPool,
} from '../support/daemon-harness';
import { buildDaemon, type DaemonProcess, spawnDaemon } from '../support/daemon-process';
import { useReplica } from '../support/use-replica';

describe.each([BUSYBOX, PYTHON])('output of hostile programs in %s', (image) => {
  const replica = useReplica('output', { pools: [{ image, size: 2 }] }, { healthyAfterEach: true });

  it('cuts a stream at its cap and keeps the exit code of a program that ended on its own', async () => {
    const result = await run(replica.url, image, 'head -c 3000 /dev/zero | tr "\\0" a; echo tail >&2; exit 7', {
      outputLimitBytes: 1000,
    });

    expect(result).toMatchObject({
      stdout: { content: 'a'.repeat(1000), truncated: true },
      stderr: { content: 'tail\n', truncated: false },
      exitCode: 7,
      outcome: 'completed',
    });
  });

  it('stops a program that keeps flooding stdout, at once, with its partial output', async () => {
    const startedAt = Date.now();
    const result = await run(replica.url, image, 'echo start; yes', { outputLimitBytes: 100, maxSeconds: 20 });

    expect(result.outcome).toBe('output_limit');
    expect(result.stdout.content).toBe(`start\n${'y\n'.repeat(47)}`);
    expect(result.stdout.truncated).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  });

  it('stops a program that floods stderr just the same', async () => {
    const result = await run(replica.url, image, 'yes err >&2', { outputLimitBytes: 10, maxSeconds: 20 });

    expect(result).toMatchObject({ outcome: 'output_limit', stderr: { content: 'err\nerr\ner', truncated: true } });
  });

  it('returns output that is not UTF-8 without harming the valid parts, or as raw bytes on request', async () => {
    const main = 'printf "caf\\303\\251 \\377\\376 end"';

    const text = await run(replica.url, image, main);
    const raw = await run(replica.url, image, main, { encoding: 'base64' });

    expect(text.stdout.content).toBe('café \uFFFD\uFFFD end');
    expect(Buffer.from(raw.stdout.content, 'base64')).toEqual(
      Buffer.from([...Buffer.from('caf'), 0xc3, 0xa9, 0x20, 0xff, 0xfe, ...Buffer.from(' end')]),
    );
  });

  it('returns long output, a last line without newline and interleaved streams byte for byte', async () => {
    const result = await run(
      replica.url,
      image,
      'seq 1 100000; printf "no newline"; echo e1 >&2; echo o1; echo e2 >&2',
    );

    const expected = `${Array.from({ length: 100000 }, (_, i) => i + 1).join('\n')}\nno newlineo1\n`;
    expect(result.stdout.content).toBe(expected);
    expect(result.stderr.content).toBe('e1\ne2\n');
  });

  it("passes bytes that look like the engine's own stream framing through unchanged", async () => {
    const fake = '\\001\\000\\000\\000\\000\\000\\000\\005hello\\002\\000\\000\\000\\377\\377\\377\\377';
    const result = await run(replica.url, image, `printf "${fake}"; printf "${fake}" >&2`, { encoding: 'base64' });

    const bytes = Buffer.from([1, 0, 0, 0, 0, 0, 0, 5, ...Buffer.from('hello'), 2, 0, 0, 0, 255, 255, 255, 255]);
    expect(Buffer.from(result.stdout.content, 'base64')).toEqual(bytes);
    expect(Buffer.from(result.stderr.content, 'base64')).toEqual(bytes);
  });
});

const PROBE = resolve(__dirname, '../support/memory-probe.js');

interface Retained {
  /** JavaScript objects and strings, in MiB. */
  heapMb: number;
  /** Buffers and ArrayBuffers, in MiB. */
  buffersMb: number;
}

/**
 * What the daemon still holds after a full collection, via its probe. Native memory outside both
 * (socket and pipe buffers in flight, allocator slack) is left out: it swings by tens of MiB from
 * one reading to the next and is not kept by anything warmpool holds.
 */
async function retained(daemon: DaemonProcess): Promise<Retained> {
  // A Buffer can be in flight at the moment of a reading (a refill's engine call, say): the least
  // of three readings, 100 ms apart, is what stays.
  const readings: Retained[] = [];
  for (let i = 0; i < 3; i += 1) {
    readings.push(await readProbe(daemon));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    heapMb: Math.min(...readings.map((reading) => reading.heapMb)),
    buffersMb: Math.min(...readings.map((reading) => reading.buffersMb)),
  };
}

async function readProbe(daemon: DaemonProcess): Promise<Retained> {
  const seen = daemon.output().length;
  daemon.child.kill('SIGUSR2');
  let line: RegExpExecArray | null = null;
  await eventually(
    () => (line = /memory-probe heap=(\d+) buffers=(\d+)/.exec(daemon.output().slice(seen))) !== null,
    10_000,
    'memory probe answered',
  );
  const [, heap, buffers] = line as unknown as RegExpExecArray;
  return { heapMb: Number(heap) / 2 ** 20, buffersMb: Number(buffers) / 2 ** 20 };
}

describe.each([BUSYBOX, PYTHON])('daemon memory while a program prints 100 MB in %s', (image) => {
  const replicaId = uniqueReplicaId('memory');
  // A daemon of its own, so the test's own allocations do not blur its memory; a flood allowance
  // above 100 MB lets the program finish on its own, so all of it is read.
  let daemon: DaemonProcess;

  beforeAll(async () => {
    buildDaemon();
    daemon = await spawnDaemon(
      replicaId,
      { pools: [{ image, size: 1 }], run: { floodAllowanceBytes: 200 * 1024 * 1024 } },
      { NODE_OPTIONS: `--expose-gc --require ${PROBE}` },
    );
    await eventually(
      async () => (await fetch(`${daemon.url}/healthz`).catch(() => undefined))?.status === 200,
      30_000,
      'daemon listening',
    );
    await waitForFullPool(daemon.url, image);
  });

  afterAll(async () => {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    await removeReplicaContainers(replicaId);
  });

  it('grows with the cap, not with what the program writes', async () => {
    const flood = 'head -c 100000000 /dev/zero; echo done >&2';
    // One run of the same kind first: what warms up once is not what each run leaves behind. A
    // small run before each reading, so the last large answer is not what is measured.
    await run(daemon.url, image, flood, { maxSeconds: 60 });
    await run(daemon.url, image, 'true');
    const before = await retained(daemon);

    for (let i = 0; i < 10; i += 1) {
      const result = await run(daemon.url, image, flood, { maxSeconds: 60 });
      expect(result).toMatchObject({ outcome: 'completed', exitCode: 0, stdout: { truncated: true } });
      expect(Buffer.byteLength(result.stdout.content)).toBe(1024 * 1024);
    }
    await run(daemon.url, image, 'true');
    const after = await retained(daemon);

    console.log(
      `daemon holds ${before.heapMb.toFixed(1)} MiB of heap and ${before.buffersMb.toFixed(1)} MiB of buffers ` +
        `after one 100 MB run; ${after.heapMb.toFixed(1)} and ${after.buffersMb.toFixed(1)} MiB after ten more`,
    );
    // Each run keeps 1 MiB of output until it is answered; ten runs kept would add 10 MiB.
    expect(after.heapMb - before.heapMb).toBeLessThan(3);
    expect(after.buffersMb - before.buffersMb).toBeLessThan(3);
  });
});
