import { Router } from 'express';
import type { PoolConfig, RunConfig } from '../config/config';
import { ShuttingDownError } from '../errors';
import type { Runner } from '../runner/runner';
import { parseRunRequest } from './parse-run-request';
import type { InFlight } from './in-flight';

/** POST /run: a run as JSON or as a gzip'd tar pipe; answers the run's result as JSON. */
export function runRoute(runner: Runner, run: RunConfig, pools: readonly PoolConfig[], inFlight: InFlight): Router {
  const router = Router();

  router.post('/run', async (req, res) => {
    if (inFlight.closed) throw new ShuttingDownError();
    const request = await parseRunRequest(req, run, pools);
    res.locals.image = request.image;

    // A caller that hangs up ends its run at once and frees its container.
    const hangUp = new AbortController();
    res.on('close', () => {
      if (!res.writableEnded) hangUp.abort();
    });

    const result = await inFlight.track(runner.run(request, hangUp.signal));
    res.locals.outcome = result.outcome;
    res.locals.warm = result.warm;
    res.json(result);
  });

  return router;
}
