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

const HEADER_BYTES = 8;
const STDOUT = 1;
const STDERR = 2;

/**
 * Splits the engine's multiplexed exec stream (8-byte frame headers) into stdout and stderr,
 * keeping at most the limit of each while reading, so the daemon's memory follows the limit and
 * never what a program writes. Frames may arrive split anywhere, headers included.
 */
export class OutputCollector {
  private readonly streams = [new CappedBuffer(), new CappedBuffer()];
  private header = Buffer.alloc(0);
  private frameRemaining = 0;
  private frameStream = STDOUT;
  private flooded = false;

  constructor(
    private readonly limits: OutputLimits,
    /** Called once, as soon as a stream passes its limit by more than the flood allowance. */
    private readonly onFlood: () => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.frameRemaining === 0) {
        const needed = HEADER_BYTES - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + needed)]);
        offset += Math.min(needed, chunk.length - offset);
        if (this.header.length < HEADER_BYTES) return;

        this.frameStream = this.header[0];
        this.frameRemaining = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }

      const take = Math.min(this.frameRemaining, chunk.length - offset);
      this.append(this.frameStream, chunk.subarray(offset, offset + take));
      this.frameRemaining -= take;
      offset += take;
    }
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

export { STDOUT, STDERR };
