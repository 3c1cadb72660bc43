import type { RequestHandler } from 'express';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger';

/** One line per request once it is answered: the only thing logged at info for each request. */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const startedAt = performance.now();
    res.on('finish', () => {
      if (req.path === '/healthz') return;
      log.info(`${req.method} ${req.path}`, {
        status: res.statusCode,
        ms: Math.round(performance.now() - startedAt),
        ...(res.locals.image && { image: res.locals.image }),
        ...(res.locals.outcome && { outcome: res.locals.outcome, warm: res.locals.warm }),
      });
    });
    next();
  };
}
