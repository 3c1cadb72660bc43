import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { DockerEngine } from '../engine/docker-engine';
import {
  ContainerLostError,
  EngineUnavailableError,
  RunAbandonedError,
  RunFailedError,
  UnpackFailedError,
  WarmpoolError,
} from '../errors';
import { type Logger, shortId } from '../log/logger';
import type { Lease, Pool } from '../pool/pool';
import type { Pools } from '../pool/pools';
import { AfterRunReport, type Report } from './after-run-report';
import { Deadline } from './deadline';
import { signalOf } from './exit-status';
import { type CollectedStream, OutputCollector } from './output-collector';
import type { RunQueue } from './run-queue';
import { RUN_SCRIPT, UNPACK_FAILED_MARKER, UNPACK_FAILED_STATUS } from './run-script';
import type { RunOutcome, RunRequest, RunResult, RunTimings, StreamResult } from './run-types';
import { compareSandbox, type FilesOutLimits, sandboxFingerprints } from './sandbox-files';

export interface RunnerOptions {
  pools: Pools;
  engine: Pick<DockerEngine, 'startExec' | 'inspectExec' | 'killContainer' | 'inspectContainer'>;
  /** Bounds the runs under way; every run waits here for a slot. */
  queue: RunQueue;
  /** Whether the engine answers right now; runs are refused at once while it does not. */
  engineAvailable: () => boolean;
  log: Logger;
  /** Bytes past the output limit tolerated before a program counts as flooding. */
  floodAllowanceBytes: number;
  /** Caps on the files brought back after a run. */
  filesOut: FilesOutLimits;
  /** How long to wait for the output still in flight after a container is killed, in ms. */
  drainAfterKillMs?: number;
  /** Pause between readings of an exec's status while the engine still reports it running, in ms. */
  statusPollMs?: number;
}

/** How often, and how far apart, to look whether a container that gave no report has stopped. */
const CONTAINER_LOST_LOOKS = 6;
const CONTAINER_LOST_LOOK_MS = 50;

interface Execution {
  stdout: CollectedStream;
  stderr: CollectedStream;
  exitCode: number | null;
  stoppedFor?: 'timed_out' | 'output_limit';
  report?: Report;
  /** When main.sh ended and the report began, if it did. */
  mainEndedAt?: number;
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

  /**
   * Runs one request. Its deadline starts now: time waiting for a slot and for a container counts
   * against it, and a run whose deadline passes before it started answers timed_out, empty.
   */
  async run(request: RunRequest, callerSignal?: AbortSignal): Promise<RunResult> {
    const startedAt = performance.now();
    const pool = this.options.pools.get(request.image);
    if (!this.options.engineAvailable()) {
      throw new EngineUnavailableError('the Docker Engine is not answering; runs resume as soon as it is back');
    }
    const deadline = new Deadline(request.maxSeconds * 1000, callerSignal);

    let started = false;
    try {
      return await this.options.queue.schedule(request.image, deadline.signal, () => {
        started = true;
        return this.runInSlot(pool, request, deadline, startedAt);
      });
    } catch (error) {
      if (started || !deadline.signal.aborted) throw error;
      if (deadline.abandoned) throw new RunAbandonedError('the caller left while the run waited for a slot');
      const waited = performance.now() - startedAt;
      return this.result(request, emptyExecution('timed_out'), false, {
        queuedMs: waited,
        checkoutMs: 0,
        executeMs: 0,
        collectMs: 0,
        totalMs: waited,
      });
    } finally {
      deadline.dispose();
    }
  }

  private async runInSlot(pool: Pool, request: RunRequest, deadline: Deadline, startedAt: number): Promise<RunResult> {
    const slotAt = performance.now();
    // Fingerprinting the files sent is host work; it overlaps the checkout.
    const sent = request.returnFiles ? this.fingerprints(request) : undefined;

    const lease = await this.checkout(pool, deadline);
    const checkedOutAt = performance.now();
    if (!lease) {
      if (deadline.abandoned) throw new RunAbandonedError('the caller left before a container was ready');
      return this.result(request, emptyExecution('timed_out'), false, {
        queuedMs: slotAt - startedAt,
        checkoutMs: checkedOutAt - slotAt,
        executeMs: 0,
        collectMs: 0,
        totalMs: checkedOutAt - startedAt,
      });
    }

    try {
      const execution = await this.execute(pool, lease, request, deadline, await sent);
      const endedAt = performance.now();
      const mainEndedAt = execution.mainEndedAt ?? endedAt;
      return this.result(request, execution, lease.warm, {
        queuedMs: slotAt - startedAt,
        checkoutMs: checkedOutAt - slotAt,
        executeMs: mainEndedAt - checkedOutAt,
        collectMs: endedAt - mainEndedAt,
        totalMs: endedAt - startedAt,
      });
    } finally {
      pool.release(lease.containerId);
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
      checkout.then(
        (late) => pool.release(late.containerId),
        () => {},
      );
    }
    return lease;
  }

  private async execute(
    pool: Pool,
    lease: Lease,
    request: RunRequest,
    deadline: Deadline,
    sent: Map<string, string> | undefined,
  ): Promise<Execution> {
    const { engine } = this.options;
    const id = lease.containerId;
    const { sandboxUid, sandboxGid } = pool.limits;

    // 1. Start the one exec, and read its output as it comes.
    const exec = await engine.startExec(id, {
      cmd: ['/bin/sh', '-c', RUN_SCRIPT],
      user: `${sandboxUid}:${sandboxGid}`,
      workingDir: '/sandbox',
    });

    let stoppedFor: Execution['stoppedFor'];
    const stop = async (reason: NonNullable<Execution['stoppedFor']>) => {
      if (stoppedFor) return;
      stoppedFor = reason;
      this.log.debug('stopping a run', {
        container: shortId(id),
        reason: deadline.abandoned ? 'the caller left' : reason,
      });
      await engine.killContainer(id);
    };

    const marker = `warmpool-report-${randomBytes(16).toString('hex')}`;
    const report = new AfterRunReport(sent && compareSandbox(sent, this.options.filesOut));
    let mainEndedAt: number | undefined;
    // The report is a tar of /sandbox, so it cannot honestly be much larger than the tmpfs. A
    // program that learned the marker could write on after it; past this it counts as a flood.
    const maxReportBytes = (pool.limits.sandboxSizeMb + 1) * 1024 * 1024;
    let reportBytes = 0;
    const output = new OutputCollector(
      { limitBytes: request.outputLimitBytes, floodAllowanceBytes: this.options.floodAllowanceBytes },
      {
        onFlood: () => void stop('output_limit').catch((error: Error) => this.warnStopFailed(id, error)),
        reportMarker: Buffer.from(marker),
        onReport: (payload) => {
          mainEndedAt ??= performance.now();
          reportBytes += payload.length;
          if (reportBytes > maxReportBytes) {
            void stop('output_limit').catch((error: Error) => this.warnStopFailed(id, error));
            return;
          }
          report.push(payload);
        },
      },
    );
    const ended = streamEnded(exec.stream);
    exec.stream.on('data', (chunk: Buffer) => output.push(chunk));

    // 2. Send the marker line and the files. Half-close: main.sh sees end-of-file on stdin, and
    //    the output keeps flowing back.
    exec.stream.end(Buffer.concat([Buffer.from(`${marker} ${sent ? 'files' : 'none'}\n`), request.archive]));

    // 3. Wait for the end, or stop the run at the deadline.
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
    output.end();
    const collected = { stdout: output.stdout, stderr: output.stderr, mainEndedAt };
    if (stoppedFor) return { ...collected, exitCode: null, stoppedFor };
    if (streamError)
      this.log.debug('exec stream ended with an error', { container: shortId(id), error: streamError.message });

    // 4. The exit status: from the report when main.sh ended on its own, else from the engine,
    //    unless the container itself was stopped under the run (an engine restart, a docker rm).
    const parsed = await report.finish(this.log);
    if (!parsed) await this.throwIfContainerLost(id);
    const exitCode = parsed?.exitCode ?? (await this.exitCodeOf(exec.execId, id, deadline));
    if (exitCode === undefined) {
      await stop('timed_out');
      return { ...collected, exitCode: null, stoppedFor: 'timed_out' };
    }
    // Without a report main.sh never ran to its end; 125 then can only come from a failed unpack.
    if (exitCode === UNPACK_FAILED_STATUS && !parsed) {
      const said = output.stderr.bytes.toString('utf8').replace(UNPACK_FAILED_MARKER, '').trim();
      throw new UnpackFailedError(
        `the run's files could not be unpacked in the container: ${said || 'tar gave no reason'}`,
      );
    }
    return { ...collected, exitCode, report: parsed };
  }

  /**
   * The exec ended without a report: either the program killed the shell running it (the
   * container lives on) or the container itself was killed or removed from outside. The engine
   * records a container's end a moment after its streams close, so look a few times.
   */
  private async throwIfContainerLost(id: string): Promise<void> {
    for (let look = 0; look < CONTAINER_LOST_LOOKS; look += 1) {
      const info = await this.options.engine.inspectContainer(id).catch((error: Error) => {
        if (error instanceof WarmpoolError && error.status === 503) throw error;
        return undefined;
      });
      if (!info?.State.Running) {
        throw new ContainerLostError(
          `the run's container ${shortId(id)} stopped before the run finished ` +
            '(the engine restarted or the container was killed or removed); retry the run',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, CONTAINER_LOST_LOOK_MS));
    }
  }

  /**
   * The exec's exit status, read once the engine says it has ended: used when main.sh did not
   * get to report, as when a program kills the shell that runs it. null from an ended exec is a
   * fault, never a 0. Undefined means the deadline came first.
   */
  private async exitCodeOf(execId: string, containerId: string, deadline: Deadline): Promise<number | undefined> {
    const pollMs = this.options.statusPollMs ?? 20;
    for (;;) {
      const status = await this.options.engine.inspectExec(execId, containerId);
      if (!status.running) {
        if (status.exitCode === null) {
          throw new RunFailedError(
            `the engine did not report an exit status for the run in container ${shortId(containerId)}`,
          );
        }
        return status.exitCode;
      }
      if (deadline.signal.aborted) return undefined;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  private async fingerprints(request: RunRequest): Promise<Map<string, string>> {
    try {
      return await sandboxFingerprints(request.archive);
    } catch (error) {
      this.log.warn('could not fingerprint the files of a run; all will count as created', {
        error: (error as Error).message,
      });
      return new Map();
    }
  }

  private result(request: RunRequest, execution: Execution, warm: boolean, timings: RunTimings): RunResult {
    // Any process of the run killed for memory makes it an oom run, even when main.sh went on and
    // ended well: the caller needs to know the program did not get the memory it asked for.
    const oom = (execution.report?.oomKills ?? 0) > 0;
    const outcome: RunOutcome = execution.stoppedFor ?? (oom ? 'oom' : 'completed');
    const rounded = {
      queuedMs: round(timings.queuedMs),
      checkoutMs: round(timings.checkoutMs),
      executeMs: round(timings.executeMs),
      collectMs: round(timings.collectMs),
      totalMs: round(timings.totalMs),
    };
    return {
      stdout: encode(execution.stdout, request.encoding),
      stderr: encode(execution.stderr, request.encoding),
      exitCode: execution.exitCode,
      signal: signalOf(execution.exitCode),
      outcome,
      warm,
      files: request.returnFiles ? (execution.report?.files ?? null) : null,
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
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
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
