import PQueue from 'p-queue';
import { QueueFullError } from '../errors';

export interface RunQueueOptions {
  /** Runs under way at once on this replica. */
  concurrency: number;
  /** Runs that may wait for a slot; one more is refused at once. */
  maxWaiting: number;
  /** Runs under way at once per image, for the images that have a limit of their own. */
  perImage?: Record<string, number>;
}

/**
 * Bounds the runs under way on a replica, and per image where configured. A run waits for a slot
 * while its deadline runs; a caller that leaves or a deadline that passes frees its place at
 * once, and the slot it would have taken is never used for it.
 */
export class RunQueue {
  private readonly all: PQueue;
  private readonly byImage = new Map<string, PQueue>();
  private waitingCount = 0;

  constructor(private readonly options: RunQueueOptions) {
    this.all = new PQueue({ concurrency: options.concurrency });
    for (const [image, concurrency] of Object.entries(options.perImage ?? {})) {
      this.byImage.set(image, new PQueue({ concurrency }));
    }
  }

  /** Runs waiting for a slot. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Runs holding a slot. */
  get running(): number {
    return this.all.pending;
  }

  /**
   * Runs `task` once a slot is free. Rejects at once with QueueFullError when too many wait, and
   * with the signal's reason when it fires before the task started.
   */
  schedule<T>(image: string, signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    // Only a run that would have to wait counts against the waiting room; one a free slot takes never does.
    const wouldWait = this.all.pending + this.waitingCount >= this.options.concurrency;
    if (wouldWait && this.waitingCount >= this.options.maxWaiting) {
      return Promise.reject(
        new QueueFullError(
          `too many runs are waiting (${this.waitingCount} waiting, ${this.all.pending} under way); retry shortly`,
        ),
      );
    }

    this.waitingCount += 1;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const leaveQueue = () => {
        if (settled) return false;
        settled = true;
        this.waitingCount -= 1;
        signal.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = () => {
        if (leaveQueue()) reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });

      // Holding the image's slot while waiting for a replica slot keeps the per-image bound exact.
      const start = () =>
        this.all.add(async () => {
          if (!leaveQueue()) return;
          try {
            resolve(await task());
          } catch (error) {
            reject(error);
          }
        });
      const imageQueue = this.byImage.get(image);
      void (imageQueue ? imageQueue.add(start) : start());
    });
  }
}
