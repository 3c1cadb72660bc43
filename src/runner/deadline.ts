/**
 * One deadline per run: aborts its signal when the time is up or when the caller goes away,
 * whichever comes first, and says which. Every step of a run races this one signal.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private reason: 'expired' | 'abandoned' | undefined;
  private readonly onCallerAbort = () => this.abort('abandoned');

  constructor(
    readonly ms: number,
    private readonly callerSignal?: AbortSignal,
  ) {
    this.timer = setTimeout(() => this.abort('expired'), ms);
    if (callerSignal?.aborted) this.abort('abandoned');
    callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.reason === 'expired';
  }

  get abandoned(): boolean {
    return this.reason === 'abandoned';
  }

  /** Resolves when the deadline passes or the caller leaves. */
  reached(): Promise<void> {
    if (this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }

  private abort(reason: 'expired' | 'abandoned'): void {
    if (this.reason) return;
    this.reason = reason;
    clearTimeout(this.timer);
    this.controller.abort(reason);
  }
}
