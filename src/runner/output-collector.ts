import { FrameSplitter, STDERR } from './exec-frames';

/** One of a run's output streams as it comes back: the bytes kept, and whether some were cut. */
export interface CollectedStream {
  bytes: Buffer;
  truncated: boolean;
  /** Everything the program wrote to the stream, kept or not. */
  totalBytes: number;
}

export interface OutputLimits {
  /** Bytes kept per stream. */
  limitBytes: number;
  /** Bytes past the limit tolerated before the program counts as flooding. */
  floodAllowanceBytes: number;
}

export interface OutputEvents {
  /** Called once, as soon as a stream passes its limit by more than the flood allowance. */
  onFlood?: () => void;
  /**
   * Where stdout stops being the program's: everything on stdout after these bytes goes to
   * `onReport` instead, uncounted and uncapped here.
   */
  reportMarker?: Buffer;
  onReport?: (payload: Buffer) => void;
}

/**
 * Keeps a run's stdout and stderr apart, at most the limit of each, while reading, so the daemon's
 * memory follows the limit and never what a program writes.
 */
export class OutputCollector {
  private readonly streams = [new CappedBuffer(), new CappedBuffer()];
  private readonly frames = new FrameSplitter((stream, payload) => this.route(stream, payload));
  private flooded = false;
  /** stdout bytes held back because they may be the start of the report marker. */
  private heldBack = Buffer.alloc(0);
  private inReport = false;

  constructor(
    private readonly limits: OutputLimits,
    private readonly events: OutputEvents = {},
  ) {}

  push(chunk: Buffer): void {
    this.frames.push(chunk);
  }

  /** The stream has ended: stdout bytes held back were the program's after all. */
  end(): void {
    if (this.heldBack.length > 0) this.append(1, this.heldBack);
    this.heldBack = Buffer.alloc(0);
  }

  /** Whether the report marker has been seen, i.e. main.sh ended on its own. */
  get reportStarted(): boolean {
    return this.inReport;
  }

  get stdout(): CollectedStream {
    return this.streams[0].collected();
  }

  get stderr(): CollectedStream {
    return this.streams[1].collected();
  }

  /** Whether a stream went past its limit by more than the flood allowance. */
  get hasFlooded(): boolean {
    return this.flooded;
  }

  private route(stream: number, data: Buffer): void {
    const marker = this.events.reportMarker;
    if (stream === STDERR || !marker) {
      this.append(stream, data);
      return;
    }
    if (this.inReport) {
      this.events.onReport?.(data);
      return;
    }

    const seen = this.heldBack.length > 0 ? Buffer.concat([this.heldBack, data]) : data;
    const at = seen.indexOf(marker);
    if (at !== -1) {
      this.heldBack = Buffer.alloc(0);
      if (at > 0) this.append(stream, seen.subarray(0, at));
      this.inReport = true;
      const rest = seen.subarray(at + marker.length);
      if (rest.length > 0) this.events.onReport?.(rest);
      return;
    }

    // Hold back a tail that could be the marker's beginning, cut by a chunk boundary.
    const hold = Math.min(seen.length, marker.length - 1);
    if (seen.length > hold) this.append(stream, seen.subarray(0, seen.length - hold));
    this.heldBack = Buffer.from(seen.subarray(seen.length - hold));
  }

  private append(stream: number, data: Buffer): void {
    // Stream 0 would be stdin, which an exec never echoes; anything unexpected counts as stdout.
    const target = this.streams[stream === STDERR ? 1 : 0];
    target.append(data, this.limits.limitBytes);

    if (!this.flooded && target.totalBytes > this.limits.limitBytes + this.limits.floodAllowanceBytes) {
      this.flooded = true;
      this.events.onFlood?.();
    }
  }
}

class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  totalBytes = 0;

  append(data: Buffer, limitBytes: number): void {
    this.totalBytes += data.length;
    const room = limitBytes - this.kept;
    if (room <= 0) return;

    // Copy: the engine's chunk is a slice of a larger socket buffer we must not pin.
    const kept = Buffer.from(data.subarray(0, room));
    this.chunks.push(kept);
    this.kept += kept.length;
  }

  collected(): CollectedStream {
    return { bytes: Buffer.concat(this.chunks), truncated: this.totalBytes > this.kept, totalBytes: this.totalBytes };
  }
}
