import Docker from 'dockerode';
import { parseConfig } from '../../src/config/load-config';
import type { WarmpoolConfig } from '../../src/config/config';
import { Daemon } from '../../src/daemon';
import { createLogger } from '../../src/log/logger';
import { LABELS } from '../../src/pool/labels';
import type { PoolStatus } from '../../src/pool/pool';
import type { RunResult } from '../../src/runner/run-types';

export const BUSYBOX = 'warmpool-test/busybox';
export const PYTHON = 'warmpool-test/python';

export const docker = new Docker();

/** A replica id no other test file uses, so each file sweeps and counts only its own containers. */
export function uniqueReplicaId(name: string): string {
  return `test-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface RunningDaemon {
  daemon: Daemon;
  config: WarmpoolConfig;
  url: string;
  stop(): Promise<void>;
}

/** Starts a replica in this process on a free loopback port, against the real engine. */
export async function startDaemon(
  name: string,
  file: Record<string, unknown> = {},
  dockerClient = docker,
): Promise<RunningDaemon> {
  const config = parseConfig(
    {
      pools: [{ image: BUSYBOX, size: 2 }],
      ...file,
    },
    { WARMPOOL_REPLICA_ID: uniqueReplicaId(name), PORT: '0', HOST: '127.0.0.1' },
  );
  // Quiet by default: many tests cause faults on purpose. TEST_LOG_LEVEL=debug shows everything.
  const level = process.env.TEST_LOG_LEVEL;
  const log = createLogger({ level, silent: level === undefined, fields: { replica: config.replicaId } });

  const daemon = new Daemon(config, log, dockerClient);
  const address = await daemon.start();
  const url = `http://127.0.0.1:${address.port}`;
  return { daemon, config, url, stop: () => daemon.stop() };
}

export async function postRun(
  url: string,
  body: Record<string, unknown>,
): Promise<{ status: number; body: RunResult & { error?: string } }> {
  const response = await fetch(`${url}/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as RunResult & { error?: string } };
}

/** Runs `main` in `image` and expects the run to be answered with 200. */
export async function run(
  url: string,
  image: string,
  main: string,
  extra: Record<string, unknown> = {},
): Promise<RunResult> {
  const { status, body } = await postRun(url, { image, main, ...extra });
  if (status !== 200) throw new Error(`POST /run answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

export type PoolLevels = PoolStatus;

export async function poolLevels(url: string, image: string): Promise<PoolLevels> {
  const body = (await getJson(`${url}/pools`)) as { pools: PoolLevels[] };
  const pool = body.pools.find((candidate) => candidate.image === image);
  if (!pool) throw new Error(`no pool for ${image} in ${JSON.stringify(body)}`);
  return pool;
}

/** Whether the replica sees its engine "up" or "down", as GET /pools says. */
export async function engineState(url: string): Promise<string> {
  return ((await getJson(`${url}/pools`)) as { engine: string }).engine;
}

/**
 * GET and parse JSON, trying once more when the connection was reset: a kept-alive connection
 * can be closed by the server just as the client reuses it, and a GET is safe to repeat.
 */
export async function getJson(url: string): Promise<unknown> {
  try {
    return await (await fetch(url)).json();
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw error;
    return (await fetch(url)).json();
  }
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > giveUpAt) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function waitForFullPool(url: string, image: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    async () => {
      const pool = await poolLevels(url, image);
      return pool.ready === pool.size && pool.starting === 0;
    },
    timeoutMs,
    `pool ${image} full`,
  );
}

/** Every container of a replica as the engine lists it, in any state. */
export async function replicaContainers(replicaId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABELS.replica}=${replicaId}`] } });
}

/** Removes whatever a test left behind, so a failing test does not leak into the next. */
export async function removeReplicaContainers(replicaId: string): Promise<void> {
  const leftovers = await replicaContainers(replicaId);
  await Promise.all(
    leftovers.map((container) =>
      docker
        .getContainer(container.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
}

/**
 * After a hostile run: the replica still answers a plain run warm, its pools are back to size,
 * and it holds no container beyond its ready ones.
 */
export async function expectHealthy(replica: RunningDaemon): Promise<void> {
  for (const pool of replica.config.pools) await waitForFullPool(replica.url, pool.image);

  const image = replica.config.pools[0].image;
  const result = await run(replica.url, image, 'echo ok');
  if (result.stdout.content !== 'ok\n' || !result.warm || result.exitCode !== 0) {
    throw new Error(`a plain run after a hostile one went wrong: ${JSON.stringify(result)}`);
  }

  const expected = replica.config.pools.reduce((sum, pool) => sum + pool.size, 0);
  await eventually(
    async () => {
      for (const pool of replica.config.pools) await waitForFullPool(replica.url, pool.image);
      return (await replicaContainers(replica.config.replicaId)).length === expected;
    },
    30_000,
    `exactly ${expected} containers of replica ${replica.config.replicaId}`,
  );
}
