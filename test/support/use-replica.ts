import {
  expectHealthy,
  removeReplicaContainers,
  type RunningDaemon,
  startDaemon,
  waitForFullPool,
} from './daemon-harness';

export interface UseReplicaOptions {
  /** After each test, check the replica still answers warm, is back to size and leaks nothing. */
  healthyAfterEach?: boolean;
  /** The pools to wait for before the tests; default every pool. */
  waitFor?: string[];
}

/**
 * A replica for the tests of one describe block: started with full pools before them, stopped
 * after them with nothing of it left, and, for hostile tests, checked healthy after each.
 */
export function useReplica(
  name: string,
  file: Record<string, unknown>,
  options: UseReplicaOptions = {},
): RunningDaemon {
  let current: RunningDaemon | undefined;
  const started = (): RunningDaemon => {
    if (!current) throw new Error(`replica ${name} is used before beforeAll started it`);
    return current;
  };

  beforeAll(async () => {
    current = await startDaemon(name, file);
    const images = options.waitFor ?? current.config.pools.map((pool) => pool.image);
    for (const image of images) await waitForFullPool(current.url, image);
  });
  if (options.healthyAfterEach) afterEach(() => expectHealthy(started()));
  afterAll(async () => {
    if (!current) return;
    await current.stop();
    await removeReplicaContainers(current.config.replicaId);
  });

  return {
    get daemon() {
      return started().daemon;
    },
    get config() {
      return started().config;
    },
    get url() {
      return started().url;
    },
    stop: () => started().stop(),
  };
}
