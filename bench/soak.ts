import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { startLocalEngine, stopLocalEngine } from '../test/support/local-engine';
import { freePort } from '../test/support/daemon-process';

/**
 * Drives a few thousand runs at 16 at once through a warmpool daemon of its own, on loopback,
 * across both test images: mostly normal runs whose output is checked, with hostile ones mixed
 * in. Midway it restarts the local engine once, and now and then removes a pooled container
 * behind the daemon's back. Bounded in count (SOAK_RUNS) and time (SOAK_MAX_SECONDS).
 */
const RUNS = Number(process.env.SOAK_RUNS ?? 3000);
const CONCURRENCY = 16;
const MAX_SECONDS = Number(process.env.SOAK_MAX_SECONDS ?? 900);
const ROOT = resolve(__dirname, '../..');
const docker = new Docker();

interface Kind {
  name: string;
  hostile: boolean;
  body: (i: number) => Record<string, unknown>;
  /** Whether the answer is right; normal runs must give exactly their output. */
  check: (status: number, body: any, i: number) => boolean;
}

const KINDS: Array<{ weight: number; kind: Kind }> = [
  {
    weight: 50,
    kind: {
      name: 'echo (busybox)',
      hostile: false,
      body: (i) => ({ image: 'warmpool-test/busybox', main: `echo run-${i}; echo err-${i} >&2; exit $((${i} % 7))` }),
      check: (status, body, i) =>
        status === 200 &&
        body.stdout.content === `run-${i}\n` &&
        body.stderr.content === `err-${i}\n` &&
        body.exitCode === i % 7,
    },
  },
  {
    weight: 25,
    kind: {
      name: 'python',
      hostile: false,
      body: (i) => ({
        image: 'warmpool-test/python',
        main: 'python3 main.py',
        files: { 'main.py': `print(sum(range(${i})))\n` },
      }),
      check: (status, body, i) =>
        status === 200 && body.stdout.content === `${(i * (i - 1)) / 2}\n` && body.exitCode === 0,
    },
  },
  {
    weight: 10,
    kind: {
      name: 'files (busybox)',
      hostile: false,
      body: (i) => ({
        image: 'warmpool-test/busybox',
        main: 'tr a-z A-Z < in.txt > out.txt',
        files: { 'in.txt': `soak ${i}\n` },
      }),
      check: (status, body, i) => status === 200 && body.files?.changed?.[0]?.content === `SOAK ${i}\n`,
    },
  },
  {
    weight: 6,
    kind: {
      name: 'time-out',
      hostile: true,
      body: () => ({ image: 'warmpool-test/busybox', main: 'echo before; sleep 30', maxSeconds: 1 }),
      // A run still waiting for a slot at its deadline times out before it printed anything.
      check: (status, body) =>
        status === 200 && body.outcome === 'timed_out' && ['before\n', ''].includes(body.stdout.content),
    },
  },
  {
    weight: 5,
    kind: {
      name: 'flood',
      hostile: true,
      body: () => ({ image: 'warmpool-test/busybox', main: 'yes', outputLimitBytes: 1000, maxSeconds: 5 }),
      check: (status, body) => status === 200 && body.outcome === 'output_limit',
    },
  },
  {
    weight: 4,
    kind: {
      name: 'fork bomb',
      hostile: true,
      body: () => ({ image: 'warmpool-test/busybox', main: 'b() { b | b & }; b; sleep 1', maxSeconds: 2 }),
      check: (status) => status === 200,
    },
  },
];

interface Outcome {
  kind: Kind;
  ok: boolean;
  status: number;
  warm: boolean;
  /** Latency of the try that was answered. */
  ms: number;
  at: number;
  tries: number;
  error?: string;
}

async function main(): Promise<void> {
  const replicaId = `soak-${process.pid}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const daemon = startDaemon(replicaId, port);
  const startedAt = performance.now();
  const outage = { from: Infinity, to: -Infinity };

  try {
    await waitFor(async () => (await fetchJson(`${url}/pools`))?.pools?.every((p: any) => p.ready === p.size), 60_000);
    const memoryBefore = rssMb(daemon);

    const outcomes: Outcome[] = [];
    let next = 0;
    const deadline = startedAt + MAX_SECONDS * 1000;
    const worker = async () => {
      while (next < RUNS && performance.now() < deadline) {
        const i = next++;
        outcomes.push(await runOne(url, pick(i), i));
      }
    };

    const chaos = (async () => {
      await waitFor(async () => next >= RUNS / 3 || performance.now() > deadline, MAX_SECONDS * 1000);
      outage.from = performance.now();
      console.error('soak: restarting the engine');
      await stopLocalEngine();
      await new Promise((done) => setTimeout(done, 3000));
      await startLocalEngine();
      await waitFor(async () => (await fetchJson(`${url}/pools`))?.engine === 'up', 60_000);
      outage.to = performance.now() + 5000;
      console.error('soak: engine back');

      for (let round = 0; round < 5 && next < RUNS; round += 1) {
        await new Promise((done) => setTimeout(done, 5000));
        await removeOnePausedContainer(replicaId);
      }
    })();

    await Promise.all([...Array.from({ length: CONCURRENCY }, worker), chaos]);
    const memoryAfter = rssMb(daemon);

    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((done) => daemon.once('exit', done));
    const leaked = (await docker.listContainers({ all: true, filters: { label: [`warmpool.replica=${replicaId}`] } }))
      .length;

    report(outcomes, outage, {
      memoryBefore,
      memoryAfter,
      leaked,
      exitCode: code,
      seconds: (performance.now() - startedAt) / 1000,
    });
  } finally {
    await stopAndSweep(daemon, replicaId);
  }
}

/** However the soak ends, the daemon stops and nothing labelled with its replica is left behind. */
async function stopAndSweep(daemon: ChildProcess, replicaId: string): Promise<void> {
  if (daemon.exitCode === null && daemon.signalCode === null) {
    daemon.kill('SIGTERM');
    const exited = new Promise((done) => daemon.once('exit', done));
    await Promise.race([exited, new Promise((done) => setTimeout(done, 90_000))]);
    daemon.kill('SIGKILL');
  }
  const left = await docker.listContainers({ all: true, filters: { label: [`warmpool.replica=${replicaId}`] } });
  await Promise.all(
    left.map((container) =>
      docker
        .getContainer(container.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
}

function startDaemon(replicaId: string, port: number): ChildProcess {
  const dir = mkdtempSync(join(tmpdir(), 'warmpool-soak-'));
  const config = join(dir, 'warmpool.json');
  writeFileSync(
    config,
    JSON.stringify({
      pools: [
        { image: 'warmpool-test/busybox', size: 8 },
        { image: 'warmpool-test/python', size: 4 },
      ],
      maxConcurrentRuns: 8,
      maxQueuedRuns: 64,
    }),
  );
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      WARMPOOL_CONFIG: config,
      WARMPOOL_REPLICA_ID: replicaId,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

function pick(i: number): Kind {
  const total = KINDS.reduce((sum, entry) => sum + entry.weight, 0);
  let roll = (i * 7919) % total;
  for (const entry of KINDS) {
    if (roll < entry.weight) return entry.kind;
    roll -= entry.weight;
  }
  return KINDS[0].kind;
}

/** Most tries of one run: a client told 503 waits as Retry-After says and tries again, as a real one would. */
const MAX_TRIES = 60;

async function runOne(url: string, kind: Kind, i: number): Promise<Outcome> {
  const at = performance.now();
  let status = 0;
  let body: any;
  let error: string | undefined;
  let tries = 0;
  while (tries < MAX_TRIES) {
    tries += 1;
    const tryAt = performance.now();
    try {
      const response = await fetch(`${url}/run`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(kind.body(i)),
      });
      status = response.status;
      body = await response.json();
      if (status !== 503) {
        const ok = kind.check(status, body, i);
        return {
          kind,
          ok,
          status,
          warm: body.warm === true,
          ms: performance.now() - tryAt,
          at,
          tries,
          error: ok ? undefined : JSON.stringify(body).slice(0, 300),
        };
      }
      await new Promise((done) => setTimeout(done, 1000 * Number(response.headers.get('retry-after') ?? 1)));
    } catch (caught) {
      error = (caught as Error).message;
      await new Promise((done) => setTimeout(done, 1000));
    }
  }
  return {
    kind,
    ok: false,
    status,
    warm: false,
    ms: performance.now() - at,
    at,
    tries,
    error: error ?? JSON.stringify(body).slice(0, 300),
  };
}

async function removeOnePausedContainer(replicaId: string): Promise<void> {
  const paused = await docker.listContainers({
    filters: { label: [`warmpool.replica=${replicaId}`], status: ['paused'] },
  });
  if (paused.length === 0) return;
  await docker
    .getContainer(paused[0].Id)
    .remove({ force: true })
    .catch(() => {});
  console.error(`soak: removed pooled container ${paused[0].Id.slice(0, 12)} behind the daemon's back`);
}

function rssMb(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function fetchJson(url: string): Promise<any> {
  try {
    return await (await fetch(url)).json();
  } catch {
    return undefined;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error(`gave up after ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

function report(
  outcomes: Outcome[],
  outage: { from: number; to: number },
  figures: Record<string, number | null>,
): void {
  const during = (o: Outcome) => o.at + o.ms >= outage.from && o.at <= outage.to;
  const normal = outcomes.filter((o) => !o.kind.hostile);
  const normalOutside = normal.filter((o) => !during(o));
  const failedOutside = normalOutside.filter((o) => !o.ok);
  const failedDuring = normal.filter((o) => during(o) && !o.ok);
  const retried = outcomes.filter((o) => o.tries > 1);
  const latencies = normalOutside
    .filter((o) => o.ok)
    .map((o) => o.ms)
    .sort((a, b) => a - b);
  const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;

  console.log(`| figure | value |\n| --- | --- |`);
  console.log(
    `| runs | ${outcomes.length} (${normal.length} normal, ${outcomes.length - normal.length} hostile), ${CONCURRENCY} at once, ${Number(figures.seconds).toFixed(0)} s |`,
  );
  console.log(`| throughput | ${(outcomes.length / Number(figures.seconds)).toFixed(1)} runs/s, outage included |`);
  console.log(`| normal runs failed outside the engine outage | ${failedOutside.length} |`);
  console.log(
    `| normal runs failed during the outage (restart + 5 s) | ${failedDuring.length} of ${normal.length - normalOutside.length} |`,
  );
  console.log(`| runs told 503 and retried after Retry-After | ${retried.length} |`);
  console.log(`| outage seen by the soak | ${((outage.to - 5000 - outage.from) / 1000).toFixed(1)} s |`);
  console.log(
    `| latency of normal runs, p50 / p95 | ${quantile(0.5).toFixed(0)} ms / ${quantile(0.95).toFixed(0)} ms |`,
  );
  console.log(
    `| warm-hit rate of normal runs | ${((100 * normalOutside.filter((o) => o.warm).length) / Math.max(1, normalOutside.length)).toFixed(1)} % |`,
  );
  for (const { kind } of KINDS.filter((entry) => entry.kind.hostile)) {
    const mine = outcomes.filter((o) => o.kind === kind);
    const outside = mine.filter((o) => !during(o));
    console.log(
      `| hostile "${kind.name}" outside the outage: answered as expected | ${outside.filter((o) => o.ok).length} of ${outside.length} |`,
    );
  }
  console.log(`| containers left after shutdown | ${figures.leaked} |`);
  console.log(`| daemon exit code after SIGTERM | ${figures.exitCode} |`);
  console.log(
    `| daemon memory (RSS) before / after | ${Number(figures.memoryBefore).toFixed(0)} MiB / ${Number(figures.memoryAfter).toFixed(0)} MiB |`,
  );
  const wrong = outcomes.filter((o) => !o.ok && !during(o));
  for (const failure of wrong.slice(0, 10))
    console.log(`wrong outside the outage: ${failure.kind.name}: ${failure.status} ${failure.error}`);
  if (failedOutside.length > 0 || figures.leaked !== 0) process.exitCode = 1;
}

main().catch((error: Error) => {
  console.error(`soak failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
