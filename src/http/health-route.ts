import { Router } from 'express';
import type { InFlight } from './in-flight';

/**
 * GET /healthz: 200 while this replica's process serves, 503 once it is shutting down. The engine's
 * state is reported but does not fail the check: restarting warmpool would not bring an engine back.
 */
export function healthRoute(replicaId: string, inFlight: InFlight, engineUp: () => boolean): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    const status = inFlight.closed ? 'shutting_down' : 'ok';
    res.status(inFlight.closed ? 503 : 200).json({
      status,
      replica: replicaId,
      engine: engineUp() ? 'up' : 'down',
      runsInFlight: inFlight.size,
    });
  });
  return router;
}
