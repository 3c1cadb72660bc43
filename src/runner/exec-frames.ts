const HEADER_BYTES = 8;

export const STDOUT = 1;
export const STDERR = 2;

/**
 * Splits the engine's multiplexed exec stream into its frames: an 8-byte header (stream type in
 * byte 0, payload length big-endian in bytes 4 to 7), then the payload. Chunks may split frames
 * anywhere, headers included; payload bytes are passed on as they come, never reassembled.
 */
export class FrameSplitter {
  private header = Buffer.alloc(0);
  private frameRemaining = 0;
  private frameStream = STDOUT;

  constructor(private readonly onPayload: (stream: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.frameRemaining === 0) {
        const needed = HEADER_BYTES - this.header.length;
        const taken = chunk.subarray(offset, offset + needed);
        this.header = this.header.length === 0 ? Buffer.from(taken) : Buffer.concat([this.header, taken]);
        offset += taken.length;
        if (this.header.length < HEADER_BYTES) return;

        this.frameStream = this.header[0];
        this.frameRemaining = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }

      const take = Math.min(this.frameRemaining, chunk.length - offset);
      this.onPayload(this.frameStream, chunk.subarray(offset, offset + take));
      this.frameRemaining -= take;
      offset += take;
    }
  }
}
