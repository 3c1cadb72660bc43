/**
 * Delays between retries of a step that keeps failing: doubling from `initialMs` up to `maxMs`,
 * so a broken image or a full engine is retried at a calm pace and never in a hot loop.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly initialMs = 500,
    private readonly maxMs = 60_000,
  ) {}

  /** Records one more failure and returns how long to wait before the next try. */
  fail(): number {
    this.failures += 1;
    return Math.min(this.maxMs, this.initialMs * 2 ** (this.failures - 1));
  }

  succeed(): void {
    this.failures = 0;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
