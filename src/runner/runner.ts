import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { DockerEngine } from '../engine/docker-engine';
import { RunFailedError, WarmpoolError } from '../errors';
import { type Logger, shortId } from '../log/logger';
import type { Lease, Pool } from '../pool/pool';
import type { Pools } from '../pool/pools';
import { Deadline } from './deadline';
import { signalOf } from './exit-status';
import { type CollectedStream, OutputCollector } from './output-collector';
import { RUN_SCRIPT, UNPACK_FAILED_MARKER, UNPACK_FAILED_STATUS } from './run-script';
import type { RunOutcome, RunRequest, RunResult, StreamResult } from './run-types';

export interface RunnerOptions {
  pools: Pools;
  engine: Pick<DockerEngine, 'startExec' | 'inspectExec' | 'killContainer'>;
  log: Logger;
  /** Bytes past the output limit tolerated before a program counts as flooding. */
  floodAllowanceBytes: number;
  /** How long to wait for the output still in flight after a container is killed, in ms. */
  drainAfterKillMs?: number;
  /** Pause between readings of an exec's status while the engine still reports it running, in ms. */
  statusPollMs?: number;
}

/** The caller went away before the run finished; nobody reads the result. */
export class RunAbandonedError extends WarmpoolError {
  override readonly status = 499;
}

interface Execution {
  stdout: CollectedStream;
  stderr: CollectedStream;
  exitCode: number | null;
  stoppedFor?: 'timed_out' | 'output_limit';
}

/**
 * Carries out one run: checks a container out, runs the program in it with one `docker exec`
 * under a hard deadline, and hands the container back for removal. Every endpoint and client
 * goes through here.
 */
export class Runner {
  private readonly log: Logger;

  constructor(private readonly options: RunnerOptions) {
    this.log = options.log;
  }

  async run(request: RunRequest, callerSignal?: AbortSignal): Promise<RunResult> {
    const startedAt = performance.now();
    const pool = this.options.pools.get(request.image);
    const deadline = new Deadline(request.maxSeconds * 1000, callerSignal);

    try {
      const lease = await this.checkout(pool, deadline);
      const checkedOutAt = performance.now();
      if (!lease) {
        if (deadline.abandoned) throw new RunAbandonedError('the caller left before a container was ready');
        return this.result(request, emptyExecution('timed_out'), false, {
          checkoutMs: checkedOutAt - startedAt, executeMs: 0, totalMs: checkedOutAt - startedAt,
        });
      }

      try {
        const execution = await this.execute(pool, lease, request, deadline);
        const endedAt = performance.now();
        return this.result(request, execution, lease.warm, {
          checkoutMs: checkedOutAt - startedAt, executeMs: endedAt - checkedOutAt, totalMs: endedAt - startedAt,
        });
      } finally {
        pool.release(lease.containerId);
      }
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Races the checkout against the deadline. A container that arrives after the deadline won is
   * released at once, so a slow creation never leaks.
   */
  private async checkout(pool: Pool, deadline: Deadline): Promise<Lease | undefined> {
    const checkout = pool.checkout(deadline.signal);
    const lease = await Promise.race([checkout, deadline.reached().then(() => undefined)]);
    if (lease === undefined) {
      checkout.then((late) => pool.release(late.containerId), () => {});
    }
    return lease;
  }

  private async execute(pool: Pool, lease: Lease, request: RunRequest, deadline: Deadline): Promise<Execution> {
    const { engine } = this.options;
    const id = lease.containerId;
    const { sandboxUid, sandboxGid } = pool.limits;

    const exec = await engine.startExec(id, {
      cmd: ['/bin/sh', '-c', RUN_SCRIPT],
      user: `${sandboxUid}:${sandboxGid}`,
      workingDir: '/sandbox',
    });

    let stoppedFor: Execution['stoppedFor'];
    const stop = async (reason: NonNullable<Execution['stoppedFor']>) => {
      if (stoppedFor) return;
      stoppedFor = reason;
      this.log.debug('stopping a run', { container: shortId(id), reason });
      await engine.killContainer(id);
    };

    const output = new OutputCollector(
      { limitBytes: request.outputLimitBytes, floodAllowanceBytes: this.options.floodAllowanceBytes },
      () => void stop('output_limit').catch((error: Error) => this.warnStopFailed(id, error)),
    );
    const ended = streamEnded(exec.stream);
    exec.stream.on('data', (chunk: Buffer) => output.push(chunk));
    // Half-close: the program sees end-of-file on stdin and its output keeps flowing back.
    exec.stream.end(request.archive);

    await Promise.race([ended, deadline.reached()]);
    if (deadline.signal.aborted && !stoppedFor && !(await settledWithin(ended, 0))) {
      await stop('timed_out');
    }
    if (stoppedFor) {
      await settledWithin(ended, this.options.drainAfterKillMs ?? 2000);
      exec.stream.destroy();
    }
    if (deadline.abandoned) throw new RunAbandonedError('the caller left before the run finished');

    const streamError = await ended;
    if (stoppedFor) return { stdout: output.stdout, stderr: output.stderr, exitCode: null, stoppedFor };
    if (streamError) this.log.debug('exec stream ended with an error', { container: shortId(id), error: streamError.message });

    const exitCode = await this.exitCodeOf(exec.execId, id, deadline);
    if (exitCode === undefined) {
      await stop('timed_out');
      return { stdout: output.stdout, stderr: output.stderr, exitCode: null, stoppedFor: 'timed_out' };
    }
    if (exitCode === UNPACK_FAILED_STATUS && output.stderr.bytes.includes(UNPACK_FAILED_MARKER)) {
      throw new RunFailedError(`could not unpack the run's files in the container: ${output.stderr.bytes.toString('utf8').trim()}`);
    }
    return { stdout: output.stdout, stderr: output.stderr, exitCode };
  }

  /**
   * The exec's exit status, read once the engine says it has ended. The stream can end a moment
   * before the engine records the status; null from an ended exec is a fault, never a 0.
   * Undefined means the deadline came first.
   */
  private async exitCodeOf(execId: string, containerId: string, deadline: Deadline): Promise<number | undefined> {
    const pollMs = this.options.statusPollMs ?? 20;
    for (;;) {
      const status = await this.options.engine.inspectExec(execId, containerId);
      if (!status.running) {
        if (status.exitCode === null) {
          throw new RunFailedError(`the engine did not report an exit status for the run in container ${shortId(containerId)}`);
        }
        return status.exitCode;
      }
      if (deadline.signal.aborted) return undefined;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  private result(request: RunRequest, execution: Execution, warm: boolean, timings: RunResult['timings']): RunResult {
    const outcome: RunOutcome = execution.stoppedFor ?? 'completed';
    const rounded = {
      checkoutMs: round(timings.checkoutMs), executeMs: round(timings.executeMs), totalMs: round(timings.totalMs),
    };
    return {
      stdout: encode(execution.stdout, request.encoding),
      stderr: encode(execution.stderr, request.encoding),
      exitCode: execution.exitCode,
      signal: signalOf(execution.exitCode),
      outcome,
      warm,
      durationMs: rounded.totalMs,
      timings: rounded,
    };
  }

  private warnStopFailed(containerId: string, error: Error): void {
    this.log.warn('could not kill a flooding run', { container: shortId(containerId), error: error.message });
  }
}

/** Resolves when the stream ends or closes, with the error that ended it, if any. */
function streamEnded(stream: Duplex): Promise<Error | undefined> {
  return new Promise((resolve) => {
    stream.once('end', () => resolve(undefined));
    stream.once('close', () => resolve(undefined));
    stream.once('error', (error) => resolve(error));
  });
}

/** Whether `promise` settles within `ms`; never rejects. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function emptyExecution(stoppedFor: Execution['stoppedFor']): Execution {
  const empty = { bytes: Buffer.alloc(0), truncated: false, totalBytes: 0 };
  return { stdout: empty, stderr: empty, exitCode: null, stoppedFor };
}

function encode(stream: CollectedStream, encoding: RunRequest['encoding']): StreamResult {
  return { content: stream.bytes.toString(encoding), truncated: stream.truncated };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
