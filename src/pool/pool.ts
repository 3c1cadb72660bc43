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
  /** Containers being created for runs that found none ready. */
  creatingOnDemand: number;
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

/** Tries at removing a used container before leaving it to the next sweep, and the first pause between them. */
const REMOVE_ATTEMPTS = 4;
const REMOVE_RETRY_MS = 1000;

/** Priority of a creation a caller is waiting for, over refills nobody waits for yet. */
const ON_DEMAND_PRIORITY = 1;

/** Keeps paused containers of one image ready and hands each out once. */
export class Pool {
  readonly image: string;
  private readonly states = new Map<string, ContainerState>();
  /** Ready containers, oldest first. */
  private readonly readyQueue: string[] = [];
  private readonly removals = new Set<Promise<void>>();
  private starting = 0;
  /** Containers being created for a caller who waits: not pooled, so apart from `starting`. */
  private creatingOnDemand = 0;
  /** Whether "pool filled" was said since the last start or outage; said once, then kept to debug. */
  private announcedFull = false;
  private counts = { hits: 0, misses: 0, created: 0, failed: 0 };
  private lastError: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** While the engine is away nothing is created: every try would fail and grow the backoff. */
  private suspended = false;
  private readonly backoff: Backoff;
  private readonly log: Logger;

  constructor(private readonly options: PoolOptions) {
    this.image = options.image;
    this.backoff = options.backoff ?? new Backoff();
    this.log = options.log.child({ pool: options.image });
  }

  /** Starts creating containers until ready plus starting reach the policy's target. */
  fill(): void {
    if (this.closed || this.suspended || this.retryTimer) return;

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
          container: shortId(id),
          error: (error as Error).message,
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
    const removal = this.remove(id, 1);
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
  }

  /** Resolves once every removal under way has ended; shutdown waits for this before its sweep. */
  async removalsSettled(): Promise<void> {
    while (this.removals.size > 0) await Promise.allSettled([...this.removals]);
  }

  /**
   * Removes a container, trying again a few times when the engine answers no: a container left
   * behind would count against the host until the next sweep. While the engine is away there is
   * nothing to retry; the sweep when it is back removes what is left.
   */
  private async remove(id: string, attempt: number): Promise<void> {
    try {
      await this.options.factory.remove(id);
      this.states.delete(id);
    } catch (error) {
      const lastTry = attempt >= REMOVE_ATTEMPTS || (error as WarmpoolError).status === 503 || this.closed;
      this.log.warn(
        lastTry ? 'could not remove a container; the next sweep will' : 'could not remove a container; will retry',
        {
          container: shortId(id),
          attempt,
          error: (error as Error).message,
        },
      );
      if (lastTry) {
        this.states.delete(id);
        return;
      }
      await new Promise<void>((resolve) => setTimeout(resolve, REMOVE_RETRY_MS * 2 ** (attempt - 1)).unref());
      await this.remove(id, attempt + 1);
    }
  }

  status(): PoolStatus {
    return {
      image: this.image,
      size: this.target(),
      ready: this.readyQueue.length,
      starting: this.starting,
      creatingOnDemand: this.creatingOnDemand,
      leased: this.count('leased'),
      removing: this.count('removing'),
      ...this.counts,
      ...(this.lastError !== undefined && { lastError: this.lastError }),
    };
  }

  /**
   * A ready container died or was removed behind the pool's back (an operator's `docker rm -f`, a
   * kill, an OOM): it leaves the pool, is removed if anything is left of it, and is replaced.
   */
  containerGone(id: string): boolean {
    if (this.states.get(id) !== 'ready') return false;
    this.readyQueue.splice(this.readyQueue.indexOf(id), 1);
    this.log.warn('a ready container died; replacing it', { container: shortId(id) });
    this.release(id);
    this.fill();
    return true;
  }

  /** Ids of the containers leased to runs under way. */
  leasedIds(): string[] {
    return [...this.states].filter(([, state]) => state === 'leased').map(([id]) => id);
  }

  /**
   * The engine went away, taking the paused containers with it: forget them (the sweep when it
   * is back removes what is left) and create nothing until it answers again.
   */
  engineLost(): void {
    this.suspended = true;
    this.announcedFull = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const id of this.readyQueue.splice(0)) this.states.delete(id);
  }

  /** The engine answers again: start afresh, without the backoff its absence caused. */
  engineBack(): void {
    this.suspended = false;
    this.backoff.succeed();
    this.lastError = undefined;
    this.fill();
  }

  /** Stops refilling; containers already made are left for the replica-wide sweep to remove. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private target(): number {
    return this.options.policy.target({
      ready: this.readyQueue.length,
      starting: this.starting,
      leased: this.count('leased'),
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
      if (this.closed || this.suspended) {
        this.release(id);
        return;
      }
      this.states.set(id, 'ready');
      this.readyQueue.push(id);
      this.log.debug('container ready', { container: shortId(id), ready: this.readyQueue.length });
      if (this.readyQueue.length === this.target() && !this.announcedFull) {
        this.announcedFull = true;
        this.log.info('pool filled', { ready: this.readyQueue.length });
      }
    } catch (error) {
      this.failed(error as Error);
    } finally {
      this.starting -= 1;
    }
  }

  private async createOnDemand(signal?: AbortSignal): Promise<string> {
    this.creatingOnDemand += 1;
    try {
      const id = await this.options.creations.add(
        () => {
          // A caller that left while this waited in the queue needs no container.
          if (signal?.aborted) throw new WarmpoolError('the run was abandoned while waiting for a container');
          return this.options.factory.create(this.image, this.options.limits, 'running');
        },
        { priority: ON_DEMAND_PRIORITY },
      );
      this.counts.created += 1;
      this.succeeded();
      return id;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.counts.failed += 1;
      this.lastError = (error as Error).message;
      if (error instanceof WarmpoolError && error.status !== 500) throw error;
      throw new RunFailedError(`could not create a container of ${this.image}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      this.creatingOnDemand -= 1;
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
      error: error.message,
      retryInMs: delayMs,
      consecutiveFailures: this.backoff.consecutiveFailures,
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
