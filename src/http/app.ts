import express, { type Express } from 'express';
import type { WarmpoolConfig } from '../config/config';
import type { Logger } from '../log/logger';
import type { Pools } from '../pool/pools';
import type { Runner } from '../runner/runner';
import { consumedRoute } from './consumed-route';
import { errorHandler } from './error-handler';
import { healthRoute } from './health-route';
import type { InFlight } from './in-flight';
import { ARCHIVE_TYPES } from './parse-run-request';
import { poolsRoute } from './pools-route';
import { requestLog } from './request-log';
import { runRoute } from './run-route';

export interface AppParts {
  config: WarmpoolConfig;
  pools: Pools;
  runner: Runner;
  inFlight: InFlight;
  log: Logger;
  /** Whether the Docker Engine answers right now; shown by GET /pools and GET /healthz. */
  engineUp?: () => boolean;
}

/** Every endpoint and its methods, so a wrong method gets 405 rather than 404. */
const ENDPOINTS: Record<string, string[]> = {
  '/run': ['POST'],
  '/pools': ['GET'],
  '/consumed': ['POST'],
  '/healthz': ['GET'],
};

/** The HTTP face of warmpool: translates requests into calls and results into answers. */
export function createApp({ config, pools, runner, inFlight, log, engineUp = () => true }: AppParts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use(requestLog(log));
  // Bodies are read up to the limit and no further, before anything else happens.
  app.use(express.json({ limit: config.bodyLimitBytes, strict: true }));
  app.use(express.raw({ type: ARCHIVE_TYPES, limit: config.bodyLimitBytes }));

  app.use(runRoute(runner, config.run, config.pools, inFlight));
  app.use(poolsRoute(pools, config.replicaId, engineUp));
  app.use(consumedRoute(pools, log));
  app.use(healthRoute(config.replicaId, inFlight, engineUp));

  app.use((req, res) => {
    const methods = ENDPOINTS[req.path];
    if (methods) {
      res.status(405).setHeader('Allow', methods.join(', '));
      res.json({ error: `${req.method} ${req.path}: expected ${methods.join(' or ')}` });
      return;
    }
    res.status(404).json({ error: `no such endpoint: ${req.method} ${req.path}` });
  });
  app.use(errorHandler(log));
  return app;
}
