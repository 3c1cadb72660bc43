import type { ErrorRequestHandler } from 'express';
import { statusOf, WarmpoolError } from '../errors';
import type { Logger } from '../log/logger';

/** body-parser's own error types, mapped to what a caller should read. */
const BODY_ERRORS: Record<string, (error: { limit?: number; message: string }) => [number, string]> = {
  'entity.too.large': (error) => [413, `request body: expected at most ${error.limit} bytes, got more`],
  'entity.parse.failed': (error) => [400, `request body: not valid JSON: ${error.message}`],
  'encoding.unsupported': (error) => [415, `request body: ${error.message}`],
  'charset.unsupported': (error) => [415, `request body: ${error.message}`],
  'request.aborted': () => [400, 'request body: the client stopped sending it'],
  'request.size.invalid': () => [400, 'request body: shorter than its Content-Length'],
};

/**
 * Every error ends here as JSON `{ "error": message }`. Faults a caller caused get their 4xx and
 * no log beyond the request line; faults inside get logged with their stack and a 5xx message
 * saying what failed. Stacks never reach a response.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const bodyError = BODY_ERRORS[(error as { type?: string }).type ?? ''];
    const [status, message] = bodyError ? bodyError(error) : [statusOf(error), messageOf(error)];

    if (status === 503) {
      // The engine away, a full queue, a shutdown: states an operator watches, not faults with stacks.
      log.warn('request refused for now', {
        method: req.method,
        path: req.path,
        image: res.locals.image,
        error: message,
      });
    } else if (status >= 500) {
      log.error('request failed', {
        method: req.method,
        path: req.path,
        status,
        image: res.locals.image,
        error: message,
        stack: (error as Error).stack,
      });
    }
    if (status === 503 && !res.headersSent) res.setHeader('Retry-After', '1');
    if (res.headersSent) return;
    res.status(status).json({ error: message });
  };
}

function messageOf(error: unknown): string {
  if (error instanceof WarmpoolError) return error.message;
  return `internal error: ${(error as Error).message ?? String(error)}`;
}
