import PQueue from 'p-queue';
import { DEFAULT_LIMITS } from '../../src/config/defaults';
import { EngineUnavailableError, RunFailedError, ShuttingDownError, WarmpoolError } from '../../src/errors';
import { createLogger } from '../../src/log/logger';
import { Backoff } from '../../src/pool/backoff';
import { Pool } from '../../src/pool/pool';
import { FixedSize } from '../../src/pool/sizing-policy';
import { FakeContainerFactory } from './support/fake-container-factory';
import { flushPromises, useFakeTimers } from './support/flush';

const IMAGE = 'warmpool-test/busybox';
const log = createLogger({ silent: true });

interface Setup {
  size?: number;
  /** Creations at once in the shared queue. */
  concurrency?: number;
  backoff?: Backoff;
  onCheckout?: (image: string) => void;
}

function makePool({ size = 2, concurrency = 4, backoff, onCheckout }: Setup = {}) {
  const factory = new FakeContainerFactory();
  const creations = new PQueue({ concurrency });
  const pool = new Pool({
    image: IMAGE,
    limits: DEFAULT_LIMITS,
    policy: new FixedSize(size),
    factory,
    creations,
    log,
    backoff,
    onCheckout,
  });
  return { pool, factory, creations };
}

/** A pool already holding `size` ready containers, container-1 being the oldest. */
async function filledPool(setup: Setup = {}) {
  const parts = makePool(setup);
  parts.pool.fill();
  await flushPromises();
  return parts;
}

beforeEach(() => useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('Pool.fill', () => {
  it('creates paused containers of its image with its limits up to the fixed size', async () => {
    const { pool, factory } = makePool({ size: 3 });

    pool.fill();
    await flushPromises();

    expect(factory.creations).toEqual(
      [1, 2, 3].map((n) => ({
        id: `container-${n}`,
        image: IMAGE,
        limits: DEFAULT_LIMITS,
        leaveAs: 'paused',
      })),
    );
    expect(pool.status()).toMatchObject({ size: 3, ready: 3, starting: 0, created: 3 });
  });

  it('creates no more when called again while containers are still starting', async () => {
    const { pool, factory } = makePool({ size: 3 });
    factory.holdCreations = true;

    pool.fill();
    pool.fill();
    await flushPromises();
    pool.fill();

    expect(factory.creations).toHaveLength(3);
    expect(pool.status()).toMatchObject({ ready: 0, starting: 3 });
  });

  it('creates no more when called again once full', async () => {
    const { pool, factory } = await filledPool({ size: 2 });

    pool.fill();
    await flushPromises();

    expect(factory.creations).toHaveLength(2);
    expect(pool.status()).toMatchObject({ ready: 2, starting: 0 });
  });

  it('creates nothing for a pool of size 0', async () => {
    const { pool, factory } = makePool({ size: 0 });

    pool.fill();
    await flushPromises();

    expect(factory.creations).toHaveLength(0);
  });

  it('goes through the shared creation queue, so no more than its concurrency start at once', async () => {
    const { pool, factory } = makePool({ size: 3, concurrency: 1 });
    factory.holdCreations = true;

    pool.fill();
    await flushPromises();
    expect(factory.creations).toHaveLength(1);
    expect(pool.status().starting).toBe(3);

    factory.finishCreation();
    await flushPromises();
    expect(factory.creations).toHaveLength(2);
    expect(pool.status()).toMatchObject({ ready: 1, starting: 2 });
  });
});

describe('Pool.status', () => {
  it('starts with every count at zero and no lastError', () => {
    const { pool } = makePool({ size: 2 });

    expect(pool.status()).toEqual({
      image: IMAGE,
      size: 2,
      ready: 0,
      starting: 0,
      leased: 0,
      removing: 0,
      creatingOnDemand: 0,
      hits: 0,
      misses: 0,
      created: 0,
      failed: 0,
    });
  });

  it('counts ready, starting, leased and removing containers apart', async () => {
    const { pool, factory } = await filledPool({ size: 3 });
    factory.holdCreations = true;
    factory.holdRemovals = true;

    const first = await pool.checkout();
    await pool.checkout();
    pool.release(first.containerId);
    await flushPromises();

    expect(pool.status()).toMatchObject({ ready: 1, starting: 2, leased: 1, removing: 1, hits: 2, created: 3 });
  });
});

describe('Pool.checkout', () => {
  it('hands out the oldest ready container, unpaused, as warm, and counts a hit', async () => {
    const { pool, factory } = await filledPool({ size: 2 });

    const lease = await pool.checkout();

    expect(lease).toEqual({ containerId: 'container-1', warm: true });
    expect(factory.unpaused).toEqual(['container-1']);
    expect(pool.status()).toMatchObject({ leased: 1, hits: 1, misses: 0 });
  });

  it('never hands the same container out twice', async () => {
    const { pool } = await filledPool({ size: 2 });

    const leases = await Promise.all([pool.checkout(), pool.checkout()]);

    expect(leases.map((lease) => lease.containerId)).toEqual(['container-1', 'container-2']);
  });

  it('refills back to size after a checkout', async () => {
    const { pool, factory } = await filledPool({ size: 2 });

    await pool.checkout();
    await flushPromises();

    expect(factory.creations.map((call) => call.leaveAs)).toEqual(['paused', 'paused', 'paused']);
    expect(pool.status()).toMatchObject({ ready: 2, leased: 1, created: 3 });
  });

  it('creates a running container on demand when none is ready, as cold, and counts a miss', async () => {
    const { pool, factory } = makePool({ size: 0 });

    const lease = await pool.checkout();

    expect(lease).toEqual({ containerId: 'container-1', warm: false });
    expect(factory.creations).toEqual([
      { id: 'container-1', image: IMAGE, limits: DEFAULT_LIMITS, leaveAs: 'running' },
    ]);
    expect(factory.unpaused).toEqual([]);
    expect(pool.status()).toMatchObject({ leased: 1, hits: 0, misses: 1, created: 1 });
  });

  it('puts an on-demand creation ahead of refills still waiting in the queue', async () => {
    const { pool, factory } = makePool({ size: 3, concurrency: 1 });
    factory.holdCreations = true;
    pool.fill();

    const checkout = pool.checkout();
    factory.finishCreation();
    await flushPromises();

    expect(factory.creations.map((call) => call.leaveAs)).toEqual(['paused', 'running']);
    factory.finishCreation();
    await expect(checkout).resolves.toEqual({ containerId: 'container-2', warm: false });
  });

  it('discards a ready container that cannot be unpaused and hands out the next one instead', async () => {
    const { pool, factory } = await filledPool({ size: 2 });
    factory.dead.add('container-1');

    const lease = await pool.checkout();

    expect(lease).toEqual({ containerId: 'container-2', warm: true });
    expect(factory.removed).toEqual(['container-1']);
    expect(pool.status()).toMatchObject({ hits: 1, misses: 0 });
  });

  it('goes cold, without an error, when no ready container can be unpaused', async () => {
    const { pool, factory } = await filledPool({ size: 2 });
    factory.dead.add('container-1');
    factory.dead.add('container-2');

    const lease = await pool.checkout();

    const onDemand = factory.creations.filter((call) => call.leaveAs === 'running');
    expect(onDemand).toHaveLength(1);
    expect(lease).toEqual({ containerId: onDemand[0].id, warm: false });
    expect(factory.removed).toEqual(['container-1', 'container-2']);
    expect(pool.status()).toMatchObject({ hits: 0, misses: 1, leased: 1 });
  });

  it('refills after a cold checkout too', async () => {
    const { pool, factory } = await filledPool({ size: 1 });
    factory.dead.add('container-1');

    await pool.checkout();
    await flushPromises();

    expect(factory.creations.map((call) => call.leaveAs)).toEqual(['paused', 'paused', 'running']);
    expect(pool.status()).toMatchObject({ ready: 1, leased: 1 });
  });

  it('tells onCheckout the image on every checkout, warm or cold', async () => {
    const onCheckout = jest.fn();
    const { pool, factory } = await filledPool({ size: 1, onCheckout });
    factory.holdCreations = true;

    const warm = await pool.checkout();
    const cold = pool.checkout();
    factory.finishCreation();
    factory.finishCreation();

    expect([warm.warm, (await cold).warm]).toEqual([true, false]);
    expect(onCheckout.mock.calls).toEqual([[IMAGE], [IMAGE]]);
  });

  it('keeps the checkout and its container when telling peers throws', async () => {
    const onCheckout = () => {
      throw new Error('peer list broken');
    };
    const { pool, factory } = await filledPool({ size: 1, onCheckout });

    const lease = await pool.checkout();

    expect(lease).toEqual({ containerId: 'container-1', warm: true });
    pool.release(lease.containerId);
    await flushPromises();
    expect(factory.removed).toContain('container-1');
    expect(pool.status().leased).toBe(0);
  });

  it('creates nothing for a caller that left while its creation waited in the queue', async () => {
    const { pool, factory } = makePool({ size: 0, concurrency: 1 });
    factory.holdCreations = true;
    const first = pool.checkout();
    await flushPromises();
    const caller = new AbortController();
    const second = pool.checkout(caller.signal);

    caller.abort();
    factory.finishCreation();
    await first;
    await expect(second).rejects.toThrow(/abandoned/);

    expect(factory.creations).toHaveLength(1);
  });

  it('removes an on-demand container whose caller left while it was created, and rejects', async () => {
    const { pool, factory } = makePool({ size: 0 });
    factory.holdCreations = true;
    const caller = new AbortController();

    const checkout = pool.checkout(caller.signal);
    caller.abort();
    factory.finishCreation();

    await expect(checkout).rejects.toThrow(WarmpoolError);
    await flushPromises();
    expect(factory.removed).toEqual(['container-1']);
    expect(pool.status()).toMatchObject({ leased: 0, removing: 0 });
  });

  it('turns a failed on-demand creation into a RunFailedError naming the image', async () => {
    const { pool, factory } = makePool({ size: 0 });
    factory.createError = new Error('no space left on device');

    const checkout = pool.checkout();

    await expect(checkout).rejects.toThrow(RunFailedError);
    await expect(checkout).rejects.toThrow(`could not create a container of ${IMAGE}: no space left on device`);
    expect(pool.status()).toMatchObject({ misses: 1, failed: 1, leased: 0, lastError: 'no space left on device' });
  });

  it('passes on a creation error that already has its own status', async () => {
    const { pool, factory } = makePool({ size: 0 });
    const unavailable = new EngineUnavailableError('the engine does not answer');
    factory.createError = unavailable;

    await expect(pool.checkout()).rejects.toBe(unavailable);
  });
});

describe('Pool.release', () => {
  it('removes the container in the background, and it leaves the counts once removed', async () => {
    const { pool, factory } = await filledPool({ size: 1 });
    factory.holdRemovals = true;
    const { containerId } = await pool.checkout();

    pool.release(containerId);
    expect(pool.status()).toMatchObject({ leased: 0, removing: 1 });

    factory.finishRemoval();
    await flushPromises();
    expect(factory.removed).toEqual([containerId]);
    expect(pool.status()).toMatchObject({ leased: 0, removing: 0 });
  });

  it('asks for a removal only once when the same container is released twice', async () => {
    const { pool, factory } = await filledPool({ size: 1 });
    factory.holdRemovals = true;
    const { containerId } = await pool.checkout();

    pool.release(containerId);
    pool.release(containerId);

    expect(factory.removed).toEqual([containerId]);
  });

  it('tries a failed removal again after 1, 2 and 4 s, then forgets the container, the error reaching nobody', async () => {
    const { pool, factory } = await filledPool({ size: 1 });
    factory.removeError = new Error('removal of container-1 is already in progress');
    const { containerId } = await pool.checkout();

    pool.release(containerId);
    await flushPromises();
    expect(factory.removed).toEqual([containerId]);
    await jest.advanceTimersByTimeAsync(999);
    expect(factory.removed).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(factory.removed).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(2000);
    expect(factory.removed).toHaveLength(3);
    expect(pool.status()).toMatchObject({ leased: 0, removing: 1 });
    await jest.advanceTimersByTimeAsync(4000);

    expect(factory.removed).toEqual([containerId, containerId, containerId, containerId]);
    expect(pool.status()).toMatchObject({ leased: 0, removing: 0 });
    await jest.advanceTimersByTimeAsync(60_000);
    expect(factory.removed).toHaveLength(4);
  });

  it('does not try a removal again while the engine is away', async () => {
    const { pool, factory } = await filledPool({ size: 1 });
    factory.removeError = new EngineUnavailableError('the Docker Engine does not answer');
    const { containerId } = await pool.checkout();

    pool.release(containerId);
    await jest.advanceTimersByTimeAsync(60_000);

    expect(factory.removed).toEqual([containerId]);
    expect(pool.status()).toMatchObject({ leased: 0, removing: 0 });
  });

  it('ends a removal that succeeds on a later try', async () => {
    const { pool, factory } = await filledPool({ size: 1 });
    factory.removeError = new Error('removal of container-1 is already in progress');
    const { containerId } = await pool.checkout();

    pool.release(containerId);
    await flushPromises();
    factory.removeError = undefined;
    await jest.advanceTimersByTimeAsync(1000);

    expect(factory.removed).toEqual([containerId, containerId]);
    expect(pool.status()).toMatchObject({ removing: 0 });
    await jest.advanceTimersByTimeAsync(60_000);
    expect(factory.removed).toHaveLength(2);
  });
});

describe('Pool creation failures', () => {
  it('counts a failed creation and keeps its message as lastError', async () => {
    const { pool, factory } = makePool({ size: 1 });
    factory.createError = new Error('pull access denied for warmpool-test/busybox');

    pool.fill();
    await flushPromises();

    expect(pool.status()).toMatchObject({
      ready: 0,
      starting: 0,
      created: 0,
      failed: 1,
      lastError: 'pull access denied for warmpool-test/busybox',
    });
  });

  it('retries only after the backoff delay, which doubles while failures go on', async () => {
    const { pool, factory } = makePool({ size: 1, backoff: new Backoff(1000, 8000) });
    factory.createError = new Error('image not found');

    pool.fill();
    await flushPromises();
    expect(factory.creations).toHaveLength(1);

    await jest.advanceTimersByTimeAsync(999);
    expect(factory.creations).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(factory.creations).toHaveLength(2);

    await jest.advanceTimersByTimeAsync(1999);
    expect(factory.creations).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(factory.creations).toHaveLength(3);
    expect(pool.status().failed).toBe(3);
  });

  it('never retries in a hot loop while creation keeps failing', async () => {
    const { pool, factory } = makePool({ size: 1 });
    factory.createError = new Error('image not found');

    pool.fill();
    await jest.advanceTimersByTimeAsync(10_000);

    // The default backoff waits 500, 1000, 2000 and 4000 ms: tries at 0, 0.5, 1.5, 3.5 and 7.5 s.
    expect(factory.creations).toHaveLength(5);
  });

  it('grows the delay once per round of failures, not once per failed container', async () => {
    const { pool, factory } = makePool({ size: 4, backoff: new Backoff(1000, 60_000) });
    factory.createError = new Error('image not found');

    pool.fill();
    await flushPromises();
    expect(factory.creations).toHaveLength(4);

    await jest.advanceTimersByTimeAsync(1000);
    expect(factory.creations).toHaveLength(8);
    await jest.advanceTimersByTimeAsync(2000);
    expect(factory.creations).toHaveLength(12);
  });

  it('clears lastError when an on-demand creation succeeds, even in a pool of size 0', async () => {
    const { pool, factory } = makePool({ size: 0 });
    factory.createError = new Error('engine full');
    await expect(pool.checkout()).rejects.toThrow(/engine full/);
    expect(pool.status().lastError).toBe('engine full');

    factory.createError = undefined;
    await pool.checkout();

    expect(pool.status().lastError).toBeUndefined();
  });

  it('does not fill while a retry is waiting, even when asked to', async () => {
    const { pool, factory } = makePool({ size: 2, backoff: new Backoff(1000, 8000) });
    factory.createError = new Error('image not found');
    pool.fill();
    await flushPromises();
    factory.createError = undefined;

    pool.fill();
    await flushPromises();

    expect(factory.creations).toHaveLength(2);
    expect(pool.status()).toMatchObject({ ready: 0, starting: 0 });
  });

  it('clears lastError and fills up once a creation succeeds again', async () => {
    const { pool, factory } = makePool({ size: 1, backoff: new Backoff(1000, 8000) });
    factory.createError = new Error('image not found');
    pool.fill();
    await flushPromises();

    factory.createError = undefined;
    await jest.advanceTimersByTimeAsync(1000);

    expect(pool.status()).toMatchObject({ ready: 1, created: 1, failed: 1 });
    expect(pool.status()).not.toHaveProperty('lastError');
  });

  it('starts the backoff from its first delay again after a success', async () => {
    const { pool, factory } = makePool({ size: 1, backoff: new Backoff(1000, 8000) });
    factory.createError = new Error('image not found');
    pool.fill();
    await jest.advanceTimersByTimeAsync(1000);
    factory.createError = undefined;
    await jest.advanceTimersByTimeAsync(2000);
    expect(pool.status().ready).toBe(1);

    factory.createError = new Error('image not found');
    await pool.checkout();
    await flushPromises();
    expect(factory.creations).toHaveLength(4);
    await jest.advanceTimersByTimeAsync(1000);

    expect(factory.creations).toHaveLength(5);
  });
});

describe('Pool.close', () => {
  it('refuses checkouts with ShuttingDownError, even with containers ready', async () => {
    const { pool, factory } = await filledPool({ size: 1 });

    pool.close();

    await expect(pool.checkout()).rejects.toThrow(ShuttingDownError);
    expect(factory.unpaused).toEqual([]);
  });

  it('stops refilling, and cancels a retry that was waiting', async () => {
    const { pool, factory } = makePool({ size: 1 });
    factory.createError = new Error('image not found');
    pool.fill();
    await flushPromises();

    pool.close();
    pool.fill();
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(120_000);

    expect(factory.creations).toHaveLength(1);
  });

  it('removes a container that finishes creating after close instead of pooling it', async () => {
    const { pool, factory } = makePool({ size: 1 });
    factory.holdCreations = true;
    pool.fill();
    await flushPromises();

    pool.close();
    factory.finishCreation();
    await flushPromises();

    expect(factory.removed).toEqual(['container-1']);
    expect(pool.status()).toMatchObject({ ready: 0, starting: 0 });
  });

  it('skips refills still waiting in the queue when it closes', async () => {
    const { pool, factory, creations } = makePool({ size: 3, concurrency: 1 });
    factory.holdCreations = true;
    pool.fill();
    await flushPromises();

    pool.close();
    factory.finishCreation();
    await creations.onIdle();

    expect(factory.creations).toHaveLength(1);
    expect(pool.status()).toMatchObject({ ready: 0, starting: 0 });
  });
});
