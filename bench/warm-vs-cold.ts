import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { parseConfig } from '../src/config/load-config';
import { Daemon } from '../src/daemon';
import { createLogger } from '../src/log/logger';
import { containerSpec } from '../src/pool/container-spec';
import { DEFAULT_LIMITS } from '../src/config/defaults';

/**
 * Compares, side by side in one run, what a hello-world costs:
 *   warm        POST /run served from the pool
 *   cold        POST /run with an empty pool (warmpool creates a container on demand)
 *   docker run  `docker run --rm` of the same command with the same limits, through the CLI
 *   engine API  create + start + wait + remove through the API: the engine's own floor per container
 * Paths are interleaved round by round, so machine noise hits them alike. Loopback only.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const IMAGE = 'warmpool-test/busybox';
const run = promisify(execFile);
const docker = new Docker();

async function main(): Promise<void> {
  const log = createLogger({ silent: true });
  const replicaId = `bench-${process.pid}`;
  const config = parseConfig({ pools: [{ image: IMAGE, size: 4 }] }, { WARMPOOL_REPLICA_ID: replicaId, PORT: '0' });
  const warm = new Daemon(config, log);
  const warmUrl = `http://127.0.0.1:${(await warm.start()).port}`;
  const coldConfig = parseConfig(
    { pools: [{ image: IMAGE, size: 0 }] },
    { WARMPOOL_REPLICA_ID: `${replicaId}-cold`, PORT: '0' },
  );
  const cold = new Daemon(coldConfig, log);
  const coldUrl = `http://127.0.0.1:${(await cold.start()).port}`;

  const samples: Record<string, number[]> = { warm: [], cold: [], 'docker run': [], 'engine API': [] };
  let warmHits = 0;
  try {
    await waitForFullPool(warmUrl);
    for (let round = 0; round < ROUNDS; round += 1) {
      const warmResult = await time(samples.warm, () => postRun(warmUrl));
      if (warmResult.warm) warmHits += 1;
      await time(samples.cold, () => postRun(coldUrl));
      await time(samples['docker run'], () => dockerRunCli());
      await time(samples['engine API'], () => engineRun(replicaId));
      await waitForFullPool(warmUrl);
    }
  } finally {
    await warm.stop();
    await cold.stop();
  }

  report(samples, warmHits);
}

async function time<T>(into: number[], step: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  const result = await step();
  into.push(performance.now() - startedAt);
  return result;
}

async function postRun(url: string): Promise<{ warm: boolean }> {
  const response = await fetch(`${url}/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image: IMAGE, main: 'echo hello' }),
  });
  const body = (await response.json()) as { warm: boolean; stdout: { content: string } };
  if (body.stdout?.content !== 'hello\n') throw new Error(`unexpected answer ${JSON.stringify(body)}`);
  return body;
}

async function dockerRunCli(): Promise<void> {
  const l = DEFAULT_LIMITS;
  const { stdout } = await run('docker', [
    'run',
    '--rm',
    '--network',
    'none',
    '--read-only',
    '--init',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--pids-limit',
    String(l.pidsLimit),
    '--memory',
    `${l.memoryMb}m`,
    '--memory-swap',
    `${l.memoryMb}m`,
    '--cpus',
    String(l.cpus),
    '--user',
    `${l.sandboxUid}:${l.sandboxGid}`,
    '--tmpfs',
    `/tmp:rw,exec,size=${l.tmpSizeMb}m`,
    IMAGE,
    'echo',
    'hello',
  ]);
  if (stdout !== 'hello\n') throw new Error(`docker run printed ${JSON.stringify(stdout)}`);
}

async function engineRun(replicaId: string): Promise<void> {
  const spec = containerSpec(IMAGE, replicaId, DEFAULT_LIMITS);
  const container = await docker.createContainer({ ...spec, Entrypoint: ['/bin/sh', '-c', 'echo hello'] });
  try {
    await container.start();
    await container.wait();
  } finally {
    await container.remove({ force: true });
  }
}

async function waitForFullPool(url: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    const { pools } = (await (await fetch(`${url}/pools`)).json()) as { pools: Array<{ ready: number; size: number }> };
    if (pools.every((pool) => pool.ready === pool.size)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the warm pool did not refill within 10 s');
}

function report(samples: Record<string, number[]>, warmHits: number): void {
  const quantile = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  };
  const warmMedian = quantile(samples.warm, 0.5);
  console.log(`hello world in ${IMAGE}, ${ROUNDS} rounds, interleaved; client-side wall time in ms`);
  console.log(`warm hits: ${warmHits}/${ROUNDS}`);
  console.log('| path | median | p95 | min | median / warm median |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, values] of Object.entries(samples)) {
    const median = quantile(values, 0.5);
    console.log(
      `| ${name} | ${median.toFixed(1)} | ${quantile(values, 0.95).toFixed(1)} | ` +
        `${Math.min(...values).toFixed(1)} | ${(median / warmMedian).toFixed(1)}x |`,
    );
  }
}

main().catch((error: Error) => {
  console.error(`bench failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
