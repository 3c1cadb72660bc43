import PQueue from 'p-queue';
import type { PoolConfig } from '../config/config';
import type { DockerEngine } from '../engine/docker-engine';
import { UnknownImageError } from '../errors';
import { type Logger, shortId } from '../log/logger';
import type { ContainerFactory } from './container-factory';
import { LABELS } from './labels';
import { Pool, type PoolStatus } from './pool';
import { FixedSize } from './sizing-policy';

export interface PoolsOptions {
  replicaId: string;
  pools: PoolConfig[];
  creationConcurrency: number;
  factory: ContainerFactory;
  engine: Pick<DockerEngine, 'listContainers' | 'removeContainer'>;
  log: Logger;
  onCheckout?: (image: string) => void;
}

/** All of a replica's pools, the creation queue they share, and the sweep of its containers. */
export class Pools {
  private readonly byImage = new Map<string, Pool>();
  private readonly creations: PQueue;

  constructor(private readonly options: PoolsOptions) {
    this.creations = new PQueue({ concurrency: options.creationConcurrency });
    for (const config of options.pools) {
      this.byImage.set(
        config.image,
        new Pool({
          image: config.image,
          limits: config.limits,
          policy: new FixedSize(config.size),
          factory: options.factory,
          creations: this.creations,
          log: options.log,
          onCheckout: options.onCheckout,
        }),
      );
    }
  }

  /** Removes what an earlier run of this replica left behind, then starts filling every pool. */
  async start(): Promise<void> {
    await this.sweep();
    for (const pool of this.byImage.values()) pool.fill();
  }

  get(image: string): Pool {
    const pool = this.byImage.get(image);
    if (!pool) throw new UnknownImageError(image, this.images());
    return pool;
  }

  has(image: string): boolean {
    return this.byImage.has(image);
  }

  images(): string[] {
    return [...this.byImage.keys()];
  }

  status(): PoolStatus[] {
    return [...this.byImage.values()].map((pool) => pool.status());
  }

  /** A container of this replica died or was removed: its pool replaces it if it was ready. */
  containerGone(id: string): void {
    for (const pool of this.byImage.values()) {
      if (pool.containerGone(id)) return;
    }
  }

  /** The engine is away: pools forget their ready containers and create nothing. */
  engineLost(): void {
    for (const pool of this.byImage.values()) pool.engineLost();
  }

  /**
   * The engine is back: remove whatever this replica left while it was away, except containers
   * still leased to a run (their runs remove them), then fill every pool again.
   */
  async engineBack(): Promise<void> {
    const leased = new Set([...this.byImage.values()].flatMap((pool) => pool.leasedIds()));
    await this.sweep((id) => !leased.has(id));
    for (const pool of this.byImage.values()) pool.engineBack();
  }

  /** Stops refilling, waits for creations under way, and removes every container of this replica. */
  async close(): Promise<void> {
    for (const pool of this.byImage.values()) pool.close();
    // Refills still queued see the closed pool and skip; creations under way finish and are swept.
    await this.creations.onIdle();
    await Promise.all([...this.byImage.values()].map((pool) => pool.removalsSettled()));
    await this.sweep();
  }

  /**
   * For a process about to die: stops refilling, removes every container of this replica now,
   * and again once creations under way have ended (waiting at most `graceMs` for them).
   */
  async closeNow(graceMs = 5000): Promise<void> {
    for (const pool of this.byImage.values()) pool.close();
    await this.sweep().catch(() => 0);

    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.creations.onIdle(), grace]);
    clearTimeout(timer);
    await this.sweep().catch(() => 0);
  }

  /**
   * Removes every container labelled with this replica's id, whatever its state, and never
   * another replica's: the label filter is the engine's, so nothing else is even listed.
   */
  async sweep(include: (id: string) => boolean = () => true): Promise<number> {
    const { replicaId, engine, log } = this.options;
    const listed = await engine.listContainers({ [LABELS.replica]: replicaId });
    const leftovers = listed.filter((container) => include(container.id));

    await Promise.all(
      leftovers.map(async (container) => {
        try {
          await engine.removeContainer(container.id);
        } catch (error) {
          log.warn('could not remove a leftover container', {
            container: shortId(container.id),
            state: container.state,
            error: (error as Error).message,
          });
        }
      }),
    );

    if (leftovers.length > 0) log.info('removed leftover containers of this replica', { count: leftovers.length });
    return leftovers.length;
  }
}
