import type { FilesOut } from './sandbox-files';

/** A run as the runner takes it, whichever endpoint or client it came through. */
export interface RunRequest {
  image: string;
  /** Plain tar unpacked at / in the container: tmp/main.sh and files under sandbox/. Already checked. */
  archive: Buffer;
  maxSeconds: number;
  /** Bytes kept per output stream. */
  outputLimitBytes: number;
  /** How output comes back: text (invalid UTF-8 replaced) or the raw bytes in base64. */
  encoding: 'utf8' | 'base64';
  /** Whether to bring back the files under /sandbox that the run created or changed. */
  returnFiles: boolean;
}

/**
 * How a run ended.
 *   completed:     main.sh ended on its own; exitCode says how
 *   timed_out:     the deadline passed; the container was killed
 *   output_limit:  the program kept writing past the output limit; the container was killed
 *   oom:           a process of the run was killed for going over the memory limit
 */
export type RunOutcome = 'completed' | 'timed_out' | 'output_limit' | 'oom';

export interface StreamResult {
  content: string;
  truncated: boolean;
}

/** Milliseconds spent in each phase of a run. */
export interface RunTimings {
  /** Waiting for a slot among the runs under way. */
  queuedMs: number;
  /** Getting a container: unpausing a ready one, or creating one on demand. */
  checkoutMs: number;
  /** From the exec's start to its end: unpacking files and running main.sh. */
  executeMs: number;
  /** Reading back the files and the memory counters after main.sh ended; 0 when skipped. */
  collectMs: number;
  /** The whole run as the runner saw it. */
  totalMs: number;
}

export interface RunResult {
  stdout: StreamResult;
  stderr: StreamResult;
  /** main.sh's exit status; null when the run did not end on its own. */
  exitCode: number | null;
  /** The signal that ended main.sh (exit status 128 + n), e.g. "SIGKILL". */
  signal: string | null;
  outcome: RunOutcome;
  /** Whether the container came ready from the pool. */
  warm: boolean;
  /**
   * The files under /sandbox the run created, changed or deleted; null when not asked for, or
   * when the run was stopped (timed_out, output_limit), since its container is killed at once.
   */
  files: FilesOut | null;
  durationMs: number;
  timings: RunTimings;
}
