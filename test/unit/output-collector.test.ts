import { type CollectedStream, OutputCollector } from '../../src/runner/output-collector';

const STDOUT = 1;
const STDERR = 2;
const ROOMY = { limitBytes: 1024, floodAllowanceBytes: 1024 };

/** One frame of the engine's multiplexed stream: type, three zero bytes, big-endian length, payload. */
function frame(stream: number, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function collect(chunks: Buffer[], limits = ROOMY, onFlood?: () => void): OutputCollector {
  const collector = new OutputCollector(limits, onFlood);
  for (const chunk of chunks) collector.push(chunk);
  return collector;
}

const binary = Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0xc3, 0x28, 0x01, 0x00, 0x00, 0x00]);
const mixed = Buffer.concat([
  frame(STDOUT, 'first line\n'),
  frame(STDERR, 'warning: é\n'),
  frame(STDOUT, binary),
  frame(STDOUT, ''),
  frame(STDERR, 'done'),
]);

/** Whether a collector fed `mixed` in pieces ends up exactly like one fed it whole. */
function sameAsWhole(collector: OutputCollector): boolean {
  const whole = collect([mixed]);
  const same = (a: CollectedStream, b: CollectedStream) => a.bytes.equals(b.bytes) && a.totalBytes === b.totalBytes;
  return same(collector.stdout, whole.stdout) && same(collector.stderr, whole.stderr);
}

describe('OutputCollector', () => {
  it('keeps stdout and stderr apart, byte for byte', () => {
    const collector = collect([mixed]);

    expect(collector.stdout).toEqual({
      bytes: Buffer.concat([Buffer.from('first line\n'), binary]), truncated: false, totalBytes: 11 + binary.length,
    });
    expect(collector.stderr).toEqual({ bytes: Buffer.from('warning: é\ndone'), truncated: false, totalBytes: 16 });
  });

  it('gives nothing for a run that wrote nothing', () => {
    const collector = collect([]);

    expect(collector.stdout).toEqual({ bytes: Buffer.alloc(0), truncated: false, totalBytes: 0 });
    expect(collector.stderr).toEqual({ bytes: Buffer.alloc(0), truncated: false, totalBytes: 0 });
  });

  it('gives the same result wherever the stream is split in two, inside a header included', () => {
    const differing: number[] = [];

    for (let at = 0; at <= mixed.length; at += 1) {
      if (!sameAsWhole(collect([mixed.subarray(0, at), mixed.subarray(at)]))) differing.push(at);
    }

    expect(differing).toEqual([]);
  });

  it('gives the same result wherever the stream is split in three', () => {
    const differing: Array<[number, number]> = [];

    for (let first = 0; first <= mixed.length; first += 1) {
      for (let second = first; second <= mixed.length; second += 1) {
        const parts = [mixed.subarray(0, first), mixed.subarray(first, second), mixed.subarray(second)];
        if (!sameAsWhole(collect(parts))) differing.push([first, second]);
      }
    }

    expect(differing).toEqual([]);
  });

  it('gives the same result when the stream arrives one byte at a time', () => {
    const bytes = [...mixed].map((byte) => Buffer.from([byte]));

    const collector = collect(bytes);

    expect(collector.stdout).toEqual(collect([mixed]).stdout);
    expect(collector.stderr).toEqual(collect([mixed]).stderr);
  });

  it('passes on payload bytes that look like frame headers unchanged', () => {
    const lookalike = frame(STDERR, 'not really stderr');

    const collector = collect([frame(STDOUT, lookalike), frame(STDOUT, 'after')]);

    expect(collector.stdout.bytes).toEqual(Buffer.concat([lookalike, Buffer.from('after')]));
    expect(collector.stderr.totalBytes).toBe(0);
  });

  it('counts frames of any other stream type as stdout', () => {
    const collector = collect([frame(0, 'a'), frame(3, 'b')]);

    expect(collector.stdout.bytes.toString()).toBe('ab');
    expect(collector.stderr.totalBytes).toBe(0);
  });

  it('keeps its own copy of what it was given', () => {
    const chunk = frame(STDOUT, 'original');
    const collector = collect([chunk]);

    chunk.fill(0);

    expect(collector.stdout.bytes.toString()).toBe('original');
  });

  describe('limit', () => {
    it('cuts each stream at the limit, marks it truncated and counts every byte written', () => {
      const limits = { limitBytes: 5, floodAllowanceBytes: 1024 };

      const collector = collect([frame(STDOUT, 'hel'), frame(STDERR, 'oops'), frame(STDOUT, 'lo world')], limits);

      expect(collector.stdout).toEqual({ bytes: Buffer.from('hello'), truncated: true, totalBytes: 11 });
      expect(collector.stderr).toEqual({ bytes: Buffer.from('oops'), truncated: false, totalBytes: 4 });
    });

    it('does not mark a stream that reaches the limit exactly as truncated', () => {
      const collector = collect([frame(STDERR, '12345')], { limitBytes: 5, floodAllowanceBytes: 0 });

      expect(collector.stderr).toEqual({ bytes: Buffer.from('12345'), truncated: false, totalBytes: 5 });
    });

    it('keeps nothing with a limit of 0, and marks a stream truncated only when something was written', () => {
      const collector = collect([frame(STDOUT, 'dropped')], { limitBytes: 0, floodAllowanceBytes: 1024 });

      expect(collector.stdout).toEqual({ bytes: Buffer.alloc(0), truncated: true, totalBytes: 7 });
      expect(collector.stderr).toEqual({ bytes: Buffer.alloc(0), truncated: false, totalBytes: 0 });
    });
  });

  describe('flood', () => {
    const limits = { limitBytes: 4, floodAllowanceBytes: 6 };

    it('is not called while a stream stays within limit plus allowance', () => {
      const onFlood = jest.fn();

      const collector = collect([frame(STDOUT, '12345'), frame(STDOUT, '67890'), frame(STDERR, '0123456789')],
        limits, onFlood);

      expect(onFlood).not.toHaveBeenCalled();
      expect(collector.hasFlooded).toBe(false);
    });

    it('is called once, as soon as a stream passes limit plus allowance', () => {
      const onFlood = jest.fn();
      const collector = new OutputCollector(limits, onFlood);

      collector.push(frame(STDOUT, '0123456789'));
      expect(onFlood).not.toHaveBeenCalled();
      collector.push(frame(STDOUT, 'x'));
      expect(onFlood).toHaveBeenCalledTimes(1);
      expect(collector.hasFlooded).toBe(true);
    });

    it('is not called again as more output, on either stream, keeps coming', () => {
      const onFlood = jest.fn();

      collect([frame(STDOUT, 'x'.repeat(50)), frame(STDOUT, 'more'), frame(STDERR, 'y'.repeat(50))], limits, onFlood);

      expect(onFlood).toHaveBeenCalledTimes(1);
    });

    it('is called when the crossing byte arrives inside a frame split across chunks', () => {
      const onFlood = jest.fn();
      const collector = new OutputCollector(limits, onFlood);
      const flooding = frame(STDERR, 'z'.repeat(11));

      collector.push(flooding.subarray(0, 18));
      expect(onFlood).not.toHaveBeenCalled();
      collector.push(flooding.subarray(18));

      expect(onFlood).toHaveBeenCalledTimes(1);
      expect(collector.stderr).toEqual({ bytes: Buffer.from('zzzz'), truncated: true, totalBytes: 11 });
    });
  });
});
