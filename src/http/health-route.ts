import { Router } from 'express';
import type { InFlight } from './in-flight';

/** GET /healthz: 200 while this replica takes runs, 503 once it is shutting down. */
export function healthRoute(replicaId: string, inFlight: InFlight): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    const status = inFlight.closed ? 'shutting_down' : 'ok';
    res.status(inFlight.closed ? 503 : 200).json({ status, replica: replicaId, runsInFlight: inFlight.size });
  });
  return router;
}
