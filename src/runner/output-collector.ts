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

/**
 * Keeps a run's stdout and stderr apart, at most the limit of each, while reading, so the daemon's
 * memory follows the limit and never what a program writes.
 */
export class OutputCollector {
  private readonly streams = [new CappedBuffer(), new CappedBuffer()];
  private readonly frames = new FrameSplitter((stream, payload) => this.append(stream, payload));
  private flooded = false;

  constructor(
    private readonly limits: OutputLimits,
    /** Called once, as soon as a stream passes its limit by more than the flood allowance. */
    private readonly onFlood: () => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    this.frames.push(chunk);
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

  private append(stream: number, data: Buffer): void {
    // Stream 0 would be stdin, which an exec never echoes; anything unexpected counts as stdout.
    const target = this.streams[stream === STDERR ? 1 : 0];
    target.append(data, this.limits.limitBytes);

    if (!this.flooded && target.totalBytes > this.limits.limitBytes + this.limits.floodAllowanceBytes) {
      this.flooded = true;
      this.onFlood();
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
