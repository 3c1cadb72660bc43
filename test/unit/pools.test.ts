import { DEFAULT_LIMITS, DEFAULT_RUN } from '../../src/config/defaults';
import type { ListedContainer } from '../../src/engine/docker-engine';
import { ShuttingDownError, UnknownImageError } from '../../src/errors';
import { createLogger } from '../../src/log/logger';
import { Pools, type PoolsOptions } from '../../src/pool/pools';
import { FakeContainerFactory } from './support/fake-container-factory';
import { flushPromises } from './support/flush';

const REPLICA = 'replica-a';
const BUSYBOX = 'warmpool-test/busybox';
const PYTHON = 'warmpool-test/python';

/** The two engine calls a sweep makes, answering from a list of containers the test sets. */
class FakeEngine {
  listed: ListedContainer[] = [];
  /** Ids whose removal fails. */
  readonly stuck = new Set<string>();
  readonly listContainers = jest.fn(async (_labels: Record<string, string>) => this.listed);
  readonly removeContainer = jest.fn(async (id: string) => {
    if (this.stuck.has(id)) throw new Error(`could not kill container ${id}`);
  });
}

function leftover(id: string): ListedContainer {
  return { id, state: 'paused', labels: { 'warmpool.replica': REPLICA, 'warmpool.pool': BUSYBOX } };
}

function makePools(overrides: Partial<PoolsOptions> = {}) {
  const factory = new FakeContainerFactory();
  const engine = new FakeEngine();
  const pools = new Pools({
    replicaId: REPLICA,
    pools: [
      { image: BUSYBOX, size: 2, limits: DEFAULT_LIMITS, outputLimitBytes: DEFAULT_RUN.outputLimitBytes },
      { image: PYTHON, size: 1, limits: { ...DEFAULT_LIMITS, memoryMb: 512 }, outputLimitBytes: 4096 },
    ],
    creationConcurrency: 4,
    factory,
    engine,
    log: createLogger({ silent: true }),
    ...overrides,
  });
  return { pools, factory, engine };
}

describe('Pools.start', () => {
  it('removes the containers an earlier run of this replica left behind', async () => {
    const { pools, engine } = makePools();
    engine.listed = [leftover('old-1'), leftover('old-2')];

    await pools.start();

    expect(engine.removeContainer.mock.calls).toEqual([['old-1'], ['old-2']]);
  });

  it('fills every pool to its size with its own limits', async () => {
    const { pools, factory } = makePools();

    await pools.start();
    await flushPromises();

    const byImage = (image: string) => factory.creations.filter((call) => call.image === image);
    expect(byImage(BUSYBOX)).toHaveLength(2);
    expect(byImage(PYTHON)).toHaveLength(1);
    expect(byImage(PYTHON)[0].limits.memoryMb).toBe(512);
    expect(pools.status().map(({ image, ready }) => ({ image, ready }))).toEqual([
      { image: BUSYBOX, ready: 2 },
      { image: PYTHON, ready: 1 },
    ]);
  });

  it('creates nothing before the sweep has finished', async () => {
    const { pools, engine, factory } = makePools();
    let finishListing!: (found: ListedContainer[]) => void;
    engine.listContainers.mockReturnValueOnce(
      new Promise((resolve) => {
        finishListing = resolve;
      }),
    );

    const started = pools.start();
    await flushPromises();
    expect(factory.creations).toHaveLength(0);

    finishListing([]);
    await started;
    expect(factory.creations).toHaveLength(3);
  });

  it('shares one creation queue between all pools, bounded by creationConcurrency', async () => {
    const { pools, factory } = makePools({ creationConcurrency: 1 });
    factory.holdCreations = true;

    await pools.start();
    await flushPromises();

    expect(factory.creations).toHaveLength(1);
    expect(pools.status().reduce((sum, status) => sum + status.starting, 0)).toBe(3);
  });
});

describe('Pools.sweep', () => {
  it("lists only the containers labelled with this replica's id", async () => {
    const { pools, engine } = makePools();

    await pools.sweep();

    expect(engine.listContainers).toHaveBeenCalledTimes(1);
    expect(engine.listContainers).toHaveBeenCalledWith({ 'warmpool.replica': REPLICA });
  });

  it('goes on removing the others when one removal fails, and counts every container listed', async () => {
    const { pools, engine } = makePools();
    engine.listed = [leftover('old-1'), leftover('old-2'), leftover('old-3')];
    engine.stuck.add('old-2');

    const swept = await pools.sweep();

    expect(swept).toBe(3);
    expect(engine.removeContainer.mock.calls).toEqual([['old-1'], ['old-2'], ['old-3']]);
  });

  it('answers 0 when nothing is left over', async () => {
    const { pools, engine } = makePools();

    await expect(pools.sweep()).resolves.toBe(0);
    expect(engine.removeContainer).not.toHaveBeenCalled();
  });
});

describe('Pools lookup', () => {
  it('gives the pool serving an image', () => {
    const { pools } = makePools();

    expect(pools.get(PYTHON).image).toBe(PYTHON);
    expect(pools.has(PYTHON)).toBe(true);
    expect(pools.images()).toEqual([BUSYBOX, PYTHON]);
  });

  it('throws UnknownImageError naming the image and the images served for an unknown one', () => {
    const { pools } = makePools();

    expect(pools.has('alpine')).toBe(false);
    expect(() => pools.get('alpine')).toThrow(UnknownImageError);
    expect(() => pools.get('alpine')).toThrow(
      `image "alpine" is not configured here; configured images: ${BUSYBOX}, ${PYTHON}`,
    );
  });
});

describe('Pools.close', () => {
  it("waits for creations under way, then sweeps this replica's containers", async () => {
    const { pools, engine, factory } = makePools();
    factory.holdCreations = true;
    await pools.start();
    let closed = false;

    const closing = pools.close().then(() => {
      closed = true;
    });
    await flushPromises();
    expect(closed).toBe(false);
    expect(engine.listContainers).toHaveBeenCalledTimes(1);

    engine.listed = [leftover('container-1'), leftover('container-2'), leftover('container-3')];
    factory.finishCreation();
    factory.finishCreation();
    factory.finishCreation();
    await closing;

    expect(engine.listContainers).toHaveBeenCalledTimes(2);
    expect(engine.removeContainer.mock.calls).toEqual([['container-1'], ['container-2'], ['container-3']]);
  });

  it('removes what finished creating after close rather than pooling it', async () => {
    const { pools, factory } = makePools();
    factory.holdCreations = true;
    await pools.start();

    const closing = pools.close();
    while (factory.heldCreationCount > 0) factory.finishCreation();
    await closing;

    expect(factory.removed).toEqual(['container-1', 'container-2', 'container-3']);
    expect(pools.status().map((status) => status.ready)).toEqual([0, 0]);
  });

  it('stops every pool, so checkouts are refused', async () => {
    const { pools } = makePools();
    await pools.start();

    await pools.close();

    await expect(pools.get(BUSYBOX).checkout()).rejects.toThrow(ShuttingDownError);
    await expect(pools.get(PYTHON).checkout()).rejects.toThrow(ShuttingDownError);
  });
});
