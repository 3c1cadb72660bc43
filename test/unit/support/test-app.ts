import type { Express } from 'express';
import { parseConfig } from '../../../src/config/load-config';
import { createApp } from '../../../src/http/app';
import { InFlight } from '../../../src/http/in-flight';
import { createLogger } from '../../../src/log/logger';
import { Pools } from '../../../src/pool/pools';
import type { Runner } from '../../../src/runner/runner';
import type { RunRequest, RunResult } from '../../../src/runner/run-types';
import { FakeContainerFactory } from './fake-container-factory';

export const REPLICA = 'replica-a';

/** What the fake runner answers every run with, unless a test says otherwise. */
export const RESULT: RunResult = {
  stdout: { content: 'hello\n', truncated: false },
  stderr: { content: '', truncated: false },
  exitCode: 0,
  signal: null,
  outcome: 'completed',
  warm: true,
  files: null,
  durationMs: 12.5,
  timings: { queuedMs: 0.5, checkoutMs: 1, executeMs: 10, collectMs: 1, totalMs: 12.5 },
};

/**
 * The real HTTP app over real pools whose containers are fakes, and a runner that only records
 * the requests it gets. Nothing here reaches Docker. `file` is a configuration file's content.
 */
export function makeTestApp(file: Record<string, unknown> = {}) {
  const log = createLogger({ silent: true });
  const config = parseConfig({ replicaId: REPLICA, ...file });
  const factory = new FakeContainerFactory();
  const pools = new Pools({
    replicaId: REPLICA,
    pools: config.pools,
    creationConcurrency: 1,
    factory,
    engine: { listContainers: async () => [], removeContainer: async () => {} },
    log,
  });
  const run = jest.fn(async (_request: RunRequest, _signal?: AbortSignal): Promise<RunResult> => RESULT);
  const inFlight = new InFlight();

  const app: Express = createApp({ config, pools, runner: { run } as unknown as Runner, inFlight, log });
  return { app, config, pools, factory, run, inFlight };
}
