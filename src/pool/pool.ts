import type PQueue from 'p-queue';
import type { ContainerLimits } from '../config/config';
import { RunFailedError, ShuttingDownError, WarmpoolError } from '../errors';
import { type Logger, shortId } from '../log/logger';
import { Backoff } from './backoff';
import type { ContainerFactory } from './container-factory';
import type { SizingPolicy } from './sizing-policy';

/**
 * The states of a container this pool knows by id. Containers still being created have no id
 * yet and are only counted (`starting`).
 *   ready:    paused, waiting for a checkout
 *   leased:   handed to one run; never handed out again
 *   removing: on its way out, off the response path
 */
export type ContainerState = 'ready' | 'leased' | 'removing';

export interface PoolStatus {
  image: string;
  size: number;
  ready: number;
  starting: number;
  leased: number;
  removing: number;
  /** Checkouts served by a ready container. */
  hits: number;
  /** Checkouts that found none ready and created one on demand. */
  misses: number;
  /** Containers this pool created successfully, pooled or on demand. */
  created: number;
  /** Creations that failed. */
  failed: number;
  /** The last creation failure, while failures keep repeating. */
  lastError?: string;
}

/** A container checked out for one run. */
export interface Lease {
  containerId: string;
  /** Whether it came ready from the pool rather than created on demand. */
  warm: boolean;
}

export interface PoolOptions {
  image: string;
  limits: ContainerLimits;
  policy: SizingPolicy;
  factory: ContainerFactory;
  /** Shared by all pools, so creation is bounded across the replica. */
  creations: PQueue;
  log: Logger;
  /** Told after each checkout, so other replicas can warm up. */
  onCheckout?: (image: string) => void;
  backoff?: Backoff;
}

/** Priority of a creation a caller is waiting for, over refills nobody waits for yet. */
const ON_DEMAND_PRIORITY = 1;

/** Keeps paused containers of one image ready and hands each out once. */
export class Pool {
  readonly image: string;
  private readonly states = new Map<string, ContainerState>();
  /** Ready containers, oldest first. */
  private readonly readyQueue: string[] = [];
  private starting = 0;
  private counts = { hits: 0, misses: 0, created: 0, failed: 0 };
  private lastError: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly backoff: Backoff;
  private readonly log: Logger;

  constructor(private readonly options: PoolOptions) {
    this.image = options.image;
    this.backoff = options.backoff ?? new Backoff();
    this.log = options.log.child({ pool: options.image });
  }

  /** Starts creating containers until ready plus starting reach the policy's target. */
  fill(): void {
    if (this.closed || this.retryTimer) return;

    const missing = this.target() - this.readyQueue.length - this.starting;
    for (let i = 0; i < missing; i += 1) {
      this.starting += 1;
      void this.options.creations.add(() => this.createReady());
    }
  }

  /**
   * Hands out a ready container, unpaused, or creates one on demand when none is ready. A ready
   * container that cannot be unpaused (it died while paused) is discarded and the next one tried,
   * so the caller never sees the difference. A container made after `signal` fired is removed.
   */
  async checkout(signal?: AbortSignal): Promise<Lease> {
    this.throwIfClosed();

    for (let id = this.readyQueue.shift(); id !== undefined; id = this.readyQueue.shift()) {
      this.states.set(id, 'leased');
      try {
        await this.options.factory.unpause(id);
      } catch (error) {
        this.log.warn('discarded a pooled container that could not be unpaused', {
          container: shortId(id), error: (error as Error).message,
        });
        this.release(id);
        continue;
      }
      this.counts.hits += 1;
      this.afterCheckout();
      return { containerId: id, warm: true };
    }

    this.counts.misses += 1;
    this.afterCheckout();
    const id = await this.createOnDemand(signal);
    this.states.set(id, 'leased');
    if (signal?.aborted) {
      this.release(id);
      throw new WarmpoolError('the run was abandoned while its container was being created');
    }
    return { containerId: id, warm: false };
  }

  get limits(): ContainerLimits {
    return this.options.limits;
  }

  /** Removes a container after its one use, in the background. */
  release(id: string): void {
    if (this.states.get(id) === 'removing') return;
    this.states.set(id, 'removing');

    this.options.factory.remove(id)
      .catch((error: Error) => this.log.warn('could not remove a used container', {
        container: shortId(id), error: error.message,
      }))
      .finally(() => this.states.delete(id));
  }

  status(): PoolStatus {
    return {
      image: this.image,
      size: this.target(),
      ready: this.readyQueue.length,
      starting: this.starting,
      leased: this.count('leased'),
      removing: this.count('removing'),
      ...this.counts,
      ...(this.lastError !== undefined && { lastError: this.lastError }),
    };
  }

  /** Stops refilling; containers already made are left for the replica-wide sweep to remove. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private target(): number {
    return this.options.policy.target({
      ready: this.readyQueue.length, starting: this.starting, leased: this.count('leased'),
    });
  }

  private count(state: ContainerState): number {
    let n = 0;
    for (const s of this.states.values()) if (s === state) n += 1;
    return n;
  }

  private afterCheckout(): void {
    this.fill();
    try {
      this.options.onCheckout?.(this.image);
    } catch (error) {
      // Telling peers is a courtesy; it must never cost the caller its container.
      this.log.warn('could not tell peers about a checkout', { error: (error as Error).message });
    }
  }

  private async createReady(): Promise<void> {
    try {
      if (this.closed) return;
      const id = await this.options.factory.create(this.image, this.options.limits, 'paused');
      this.counts.created += 1;
      this.succeeded();
      if (this.closed) {
        this.release(id);
        return;
      }
      this.states.set(id, 'ready');
      this.readyQueue.push(id);
      this.log.debug('container ready', { container: shortId(id), ready: this.readyQueue.length });
      if (this.readyQueue.length === this.target()) this.log.info('pool filled', { ready: this.readyQueue.length });
    } catch (error) {
      this.failed(error as Error);
    } finally {
      this.starting -= 1;
    }
  }

  private async createOnDemand(signal?: AbortSignal): Promise<string> {
    try {
      const id = await this.options.creations.add(() => {
        // A caller that left while this waited in the queue needs no container.
        if (signal?.aborted) throw new WarmpoolError('the run was abandoned while waiting for a container');
        return this.options.factory.create(this.image, this.options.limits, 'running');
      }, { priority: ON_DEMAND_PRIORITY });
      this.counts.created += 1;
      this.succeeded();
      return id;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.counts.failed += 1;
      this.lastError = (error as Error).message;
      if (error instanceof WarmpoolError && error.status !== 500) throw error;
      throw new RunFailedError(`could not create a container of ${this.image}: ${(error as Error).message}`, { cause: error });
    }
  }

  private succeeded(): void {
    this.backoff.succeed();
    this.lastError = undefined;
  }

  /** Retries after a growing delay, so a broken image is never retried in a hot loop. */
  private failed(error: Error): void {
    this.counts.failed += 1;
    this.lastError = error.message;
    // One round of creations failing together is one failure: the delay grows per round, not per container.
    if (this.closed || this.retryTimer) return;
    const delayMs = this.backoff.fail();
    this.log.warn('could not create a pooled container; will retry', {
      error: error.message, retryInMs: delayMs, consecutiveFailures: this.backoff.consecutiveFailures,
    });

    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.fill();
    }, delayMs);
    this.retryTimer.unref();
  }

  private throwIfClosed(): void {
    if (this.closed) throw new ShuttingDownError();
  }
}
