import Docker from 'dockerode';
import type { Duplex } from 'node:stream';
import { EngineTimeoutError, EngineUnavailableError, WarmpoolError } from '../errors';
import { type Logger, shortId } from '../log/logger';

export interface ListedContainer {
  id: string;
  /** created, running, paused, restarting, removing, exited or dead */
  state: string;
  labels: Record<string, string>;
}

export interface ExecOptions {
  cmd: string[];
  user: string;
  workingDir: string;
  env?: string[];
}

export interface StartedExec {
  /** Multiplexed stdout and stderr to read; stdin to write and then end. */
  stream: Duplex;
  execId: string;
}

export interface ExecStatus {
  running: boolean;
  /** null while running, and when the engine does not know it. */
  exitCode: number | null;
}

/**
 * The one place warmpool talks to Docker, in Docker's own verbs. Each call has a time-out, is
 * logged at debug with the short container id, and "already paused", "not running" or "already
 * gone" count as success where the caller's goal is met anyway.
 */
export class DockerEngine {
  private readonly unreachableListeners: Array<(reason: string) => void> = [];

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
    private readonly callTimeoutMs: number,
  ) {}

  /** Tells `listener` each time a call finds the engine unreachable, so the watcher need not wait for its ping. */
  onUnreachable(listener: (reason: string) => void): void {
    this.unreachableListeners.push(listener);
  }

  async ping(): Promise<void> {
    await this.call('ping', undefined, () => this.docker.ping());
  }

  async createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    const container = await this.call('create', undefined, () => this.docker.createContainer(options));
    return container.id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('start', id, () => this.docker.getContainer(id).start());
  }

  async pauseContainer(id: string): Promise<void> {
    await this.call('pause', id, () => this.docker.getContainer(id).pause());
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.call('unpause', id, () => this.docker.getContainer(id).unpause());
  }

  /** Kills the container; one that has already stopped or gone counts as killed. */
  async killContainer(id: string): Promise<void> {
    await this.call('kill', id, () => this.docker.getContainer(id).kill(), [404, 409]);
  }

  /** Removes the container whatever its state; one already gone or being removed counts as removed. */
  async removeContainer(id: string): Promise<void> {
    await this.call('remove', id, () => this.docker.getContainer(id).remove({ force: true, v: true }), [404, 409]);
  }

  async inspectContainer(id: string): Promise<Docker.ContainerInspectInfo> {
    return this.call('inspect', id, () => this.docker.getContainer(id).inspect());
  }

  /** Every container, in any state, carrying all of these labels. */
  async listContainers(labels: Record<string, string>): Promise<ListedContainer[]> {
    const label = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
    const found = await this.call('list', undefined, () =>
      this.docker.listContainers({ all: true, filters: { label } }),
    );
    return found.map((container) => ({ id: container.Id, state: container.State, labels: container.Labels }));
  }

  /** The engine's event stream, as JSON lines, filtered the engine's way (type, label, event). */
  async streamEvents(filters: Record<string, string[]>): Promise<NodeJS.ReadableStream & { destroy?: () => void }> {
    return this.call('events', undefined, () => this.docker.getEvents({ filters }));
  }

  /**
   * Resolves once the container's log holds `marker`; rejects when the container stops first or
   * the time-out passes. The entrypoint prints the marker just before it starts waiting.
   */
  async waitForLogLine(id: string, marker: string, timeoutMs: number): Promise<void> {
    const stream = (await this.call('logs', id, () =>
      this.docker.getContainer(id).logs({ follow: true, stdout: true, stderr: true }),
    )) as unknown as NodeJS.ReadableStream & { destroy(): void };

    let seen = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new EngineTimeoutError(
                `container ${shortId(id)} did not print "${marker}" within ${timeoutMs} ms; its output so far: ${printable(seen)}`,
              ),
            ),
          timeoutMs,
        );
        const settle = (error?: Error) => {
          clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        };
        stream.on('data', (chunk: Buffer) => {
          seen = (seen + chunk.toString('latin1')).slice(-4096);
          if (seen.includes(marker)) settle();
        });
        stream.on('end', () =>
          settle(
            new WarmpoolError(
              `container ${shortId(id)} stopped before its entrypoint was ready; its output: ${printable(seen)}`,
            ),
          ),
        );
        stream.on('error', (error: Error) => settle(classify(error, 'logs')));
      });
    } finally {
      stream.destroy();
    }
  }

  /** Starts a command in the container with stdin, stdout and stderr attached, never a TTY. */
  async startExec(id: string, options: ExecOptions): Promise<StartedExec> {
    const container = this.docker.getContainer(id);
    const exec = await this.call('exec create', id, () =>
      container.exec({
        Cmd: options.cmd,
        User: options.user,
        WorkingDir: options.workingDir,
        Env: options.env,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      }),
    );
    const stream = await this.call('exec start', id, () => exec.start({ hijack: true, stdin: true, Tty: false }));
    return { stream: stream as Duplex, execId: exec.id };
  }

  async inspectExec(execId: string, containerId: string): Promise<ExecStatus> {
    const info = await this.call('exec inspect', containerId, () => this.docker.getExec(execId).inspect());
    return { running: info.Running, exitCode: typeof info.ExitCode === 'number' ? info.ExitCode : null };
  }

  private async call<T>(
    verb: string,
    id: string | undefined,
    run: () => Promise<T>,
    fineStatuses: number[] = [],
  ): Promise<T> {
    const container = id ? shortId(id) : undefined;
    this.log.debug(`docker ${verb}`, { container });

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new EngineTimeoutError(
              `docker ${verb}${container ? ` of container ${container}` : ''} did not answer within ${this.callTimeoutMs} ms`,
            ),
          ),
        this.callTimeoutMs,
      );
    });

    try {
      return await Promise.race([run(), timeout]);
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== undefined && fineStatuses.includes(status)) {
        this.log.debug(`docker ${verb}: nothing to do`, { container, status });
        return undefined as T;
      }
      const classified = classify(error, verb, container);
      this.log.debug(`docker ${verb} failed`, { container, error: classified.message });
      if (classified instanceof EngineUnavailableError) {
        for (const listener of this.unreachableListeners) listener(classified.message);
      }
      throw classified;
    } finally {
      clearTimeout(timer);
    }
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ETIMEDOUT', 'EACCES']);

/** Tells an engine that does not answer apart from an engine that answers no. */
function classify(error: unknown, verb: string, container?: string): WarmpoolError {
  if (error instanceof WarmpoolError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const subject = `docker ${verb}${container ? ` of container ${container}` : ''}`;
  if (code !== undefined && UNREACHABLE.has(code)) {
    return new EngineUnavailableError(`the Docker Engine does not answer (${code}) during ${subject}`, {
      cause: error,
    });
  }
  const message = (error as { json?: { message?: string } }).json?.message ?? (error as Error).message ?? String(error);
  return new WarmpoolError(`${subject} failed: ${message.trim()}`, { cause: error });
}

function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = text.replace(/[\x00-\x08\x0b-\x1f]/g, '').trim();
  return cleaned ? JSON.stringify(cleaned.slice(-500)) : '(nothing)';
}
