import { Router } from 'express';
import type { Pools } from '../pool/pools';

/** GET /pools: every pool's levels and counters, for operators and dashboards. */
export function poolsRoute(pools: Pools, replicaId: string, engineUp: () => boolean): Router {
  const router = Router();
  router.get('/pools', (_req, res) => {
    res.json({ replica: replicaId, engine: engineUp() ? 'up' : 'down', pools: pools.status() });
  });
  return router;
}
