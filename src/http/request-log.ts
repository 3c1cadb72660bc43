import type { RequestHandler } from 'express';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger';

/** One line per request once it is over: the only thing logged at info for each request. */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const startedAt = performance.now();
    res.on('close', () => {
      if (req.path === '/healthz') return;
      // A caller that hung up never got an answer: logged as nginx does, with 499.
      log.info(`${req.method} ${req.path}`, {
        status: res.writableFinished ? res.statusCode : 499,
        ms: Math.round(performance.now() - startedAt),
        ...(res.locals.image && { image: res.locals.image }),
        ...(res.locals.outcome && { outcome: res.locals.outcome, warm: res.locals.warm }),
      });
    });
    next();
  };
}
