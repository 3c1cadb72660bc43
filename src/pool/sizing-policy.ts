/** What a sizing policy sees of its pool when it decides. */
export interface PoolDemand {
  ready: number;
  starting: number;
  leased: number;
}

/**
 * How many containers a pool keeps ready or starting. Kept apart from the container mechanics so
 * a pool can later follow demand between a minimum and a maximum without touching them.
 */
export interface SizingPolicy {
  target(demand: PoolDemand): number;
}

/** Keeps a fixed number ready, whatever the demand. */
export class FixedSize implements SizingPolicy {
  constructor(private readonly size: number) {}

  target(): number {
    return this.size;
  }
}
