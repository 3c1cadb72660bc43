import { Router } from 'express';
import { InvalidRequestError } from '../errors';
import type { Logger } from '../log/logger';
import type { Pools } from '../pool/pools';

/**
 * POST /consumed: another replica used a container of `image`. Answers 202 at once and tops this
 * replica's pool up in the background, so warm capacity follows demand across replicas.
 */
export function consumedRoute(pools: Pools, log: Logger): Router {
  const router = Router();

  router.post('/consumed', (req, res) => {
    const { image, count, from } = (req.body ?? {}) as Record<string, unknown>;
    if (typeof image !== 'string' || image === '') {
      throw new InvalidRequestError(`image: expected an image name, got ${JSON.stringify(image) ?? 'nothing'}`);
    }
    if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 1000)) {
      throw new InvalidRequestError(`count: expected a whole number from 1 to 1000, got ${JSON.stringify(count)}`);
    }
    if (from !== undefined && typeof from !== 'string') {
      throw new InvalidRequestError(`from: expected the sending replica's id, got ${JSON.stringify(from)}`);
    }
    const pool = pools.get(image);

    res.status(202).json({ accepted: true });
    log.debug('a peer consumed a container', { image, count: count ?? 1, from });
    pool.fill();
  });

  return router;
}
