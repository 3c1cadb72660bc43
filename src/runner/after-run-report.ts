import type { Logger } from '../log/logger';
import type { FilesOut, SandboxComparison } from './sandbox-files';

/** What the run script reports once main.sh and everything it left are gone. */
export interface Report {
  exitCode: number;
  /** How many processes the container's memory limit has killed so far. */
  oomKills: number;
  /** The files compared with what was sent; null when not asked for or unreadable. */
  files: FilesOut | null;
}

/** The longest report line taken: " <status> <oom kills>\n" after the marker. */
const MAX_LINE_BYTES = 64;

/**
 * Reads the report that follows the marker on stdout: a line with main.sh's exit status and the
 * OOM-kill counter, then, when files were asked for, a tar of /sandbox handed to the comparison
 * as it streams.
 */
export class AfterRunReport {
  private line = '';
  private lineDone = false;
  private started = false;

  constructor(private readonly comparison: SandboxComparison | undefined) {}

  push(payload: Buffer): void {
    this.started = true;
    if (this.lineDone) {
      this.comparison?.write(payload);
      return;
    }

    const newline = payload.indexOf(0x0a);
    const end = newline === -1 ? payload.length : newline;
    this.line = (this.line + payload.subarray(0, end).toString('latin1')).slice(0, MAX_LINE_BYTES);
    if (newline === -1) return;
    this.lineDone = true;
    if (newline + 1 < payload.length) this.comparison?.write(payload.subarray(newline + 1));
  }

  /** The report, or undefined when main.sh never got to write one. */
  async finish(log: Logger): Promise<Report | undefined> {
    if (!this.started || !this.lineDone) return undefined;
    const fields = /^ (\d{1,3}) (\d{1,10})$/.exec(this.line);
    if (!fields) return undefined;
    const [status, oomKills] = [Number(fields[1]), Number(fields[2])];

    let files: FilesOut | null = null;
    if (this.comparison) {
      this.comparison.end();
      try {
        files = await this.comparison.result;
      } catch (error) {
        log.warn('could not read the files a run left', { error: (error as Error).message });
      }
    }
    return { exitCode: status, oomKills, files };
  }
}
