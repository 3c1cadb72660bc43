import { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger';
import { shortId } from '../log/logger';
import type { DockerEngine } from './docker-engine';

/** A container event warmpool acts on: one of its containers died or was removed. */
export interface ContainerGone {
  id: string;
  /** die, destroy or oom, as the engine names it. */
  action: string;
}

export interface EngineWatcherOptions {
  engine: Pick<DockerEngine, 'ping' | 'streamEvents'>;
  /** Only events of containers with these labels are followed. */
  labels: Record<string, string>;
  log: Logger;
  /** Pause between pings while the engine is up, in ms: catches a silent engine. */
  healthCheckMs?: number;
  /** First pause between pings while the engine is away, doubling up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

type Events = {
  /** The engine stopped answering. */
  down: [reason: string];
  /** The engine answers again (or for the first time). */
  up: [];
  gone: [ContainerGone];
};

/**
 * Knows whether the Docker Engine answers, and follows its event stream for this replica's
 * containers. When the stream breaks or a health ping fails it reports the engine down and pings
 * with a growing pause until it answers, then reports it up and follows the events again.
 */
export class EngineWatcher extends EventEmitter<Events> {
  private isUp = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private events: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
  private retryMs: number;

  constructor(private readonly options: EngineWatcherOptions) {
    super();
    this.retryMs = options.retryMs ?? 500;
  }

  get available(): boolean {
    return this.isUp;
  }

  /** Checks the engine once and keeps watching; resolves with whether it answered. */
  async start(): Promise<boolean> {
    await this.check();
    return this.isUp;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.events?.destroy?.();
  }

  /** Tells the watcher a call found the engine unreachable, so it need not wait for its next ping. */
  suspect(reason: string): void {
    if (this.isUp) this.markDown(reason);
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.options.engine.ping();
      // stop() may have come while the ping was out: a stopped watcher follows nothing.
      if (!this.isUp && !this.stopped) await this.markUp();
    } catch (error) {
      if (this.isUp) this.markDown(`ping failed: ${(error as Error).message}`);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delayMs = this.isUp ? (this.options.healthCheckMs ?? 5000) : this.retryMs;
    if (!this.isUp) this.retryMs = Math.min(this.retryMs * 2, this.options.maxRetryMs ?? 5000);
    this.timer = setTimeout(() => void this.check(), delayMs);
    this.timer.unref();
  }

  private async markUp(): Promise<void> {
    try {
      await this.follow();
    } catch (error) {
      this.options.log.debug('could not follow engine events yet', { error: (error as Error).message });
      return;
    }
    if (this.stopped) {
      this.events?.destroy?.();
      return;
    }
    this.isUp = true;
    this.retryMs = this.options.retryMs ?? 500;
    this.options.log.info('the Docker Engine answers');
    this.emit('up');
  }

  private markDown(reason: string): void {
    if (!this.isUp) return;
    this.isUp = false;
    this.events?.destroy?.();
    this.events = undefined;
    this.options.log.error('the Docker Engine stopped answering; runs get 503 until it is back', { reason });
    this.emit('down', reason);
    this.schedule();
  }

  private async follow(): Promise<void> {
    const labels = Object.entries(this.options.labels).map(([key, value]) => `${key}=${value}`);
    const stream = await this.options.engine.streamEvents({
      type: ['container'],
      label: labels,
      event: ['die', 'destroy', 'oom'],
    });
    this.events = stream;

    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.onEvent(line);
    });
    const broke = (why: string) => {
      if (this.events === stream && !this.stopped) this.markDown(why);
    };
    stream.on('end', () => broke('the event stream ended'));
    stream.on('error', (error: Error) => broke(`the event stream failed: ${error.message}`));
  }

  private onEvent(line: string): void {
    if (line.trim() === '') return;
    try {
      const event = JSON.parse(line) as { Action?: string; status?: string; id?: string; Actor?: { ID?: string } };
      const id = event.Actor?.ID ?? event.id;
      const action = event.Action ?? event.status;
      if (!id || !action) return;
      this.options.log.debug('engine event', { container: shortId(id), action });
      this.emit('gone', { id, action });
    } catch (error) {
      this.options.log.warn('could not read an engine event', { error: (error as Error).message });
    }
  }
}
