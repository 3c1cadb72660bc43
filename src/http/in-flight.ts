/** Counts the runs under way, so shutdown can stop taking new ones and wait for the rest. */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>();
  private isClosed = false;

  get closed(): boolean {
    return this.isClosed;
  }

  get size(): number {
    return this.running.size;
  }

  track<T>(run: Promise<T>): Promise<T> {
    this.running.add(run);
    const forget = () => this.running.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Takes no new runs from now on, and resolves when the ones under way have settled. */
  async close(): Promise<void> {
    this.isClosed = true;
    await Promise.allSettled([...this.running]);
  }
}
