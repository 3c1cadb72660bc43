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
  const collector = new OutputCollector(limits, { onFlood });
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
      bytes: Buffer.concat([Buffer.from('first line\n'), binary]),
      truncated: false,
      totalBytes: 11 + binary.length,
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

      const collector = collect(
        [frame(STDOUT, '12345'), frame(STDOUT, '67890'), frame(STDERR, '0123456789')],
        limits,
        onFlood,
      );

      expect(onFlood).not.toHaveBeenCalled();
      expect(collector.hasFlooded).toBe(false);
    });

    it('is called once, as soon as a stream passes limit plus allowance', () => {
      const onFlood = jest.fn();
      const collector = new OutputCollector(limits, { onFlood });

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
      const collector = new OutputCollector(limits, { onFlood });
      const flooding = frame(STDERR, 'z'.repeat(11));

      collector.push(flooding.subarray(0, 18));
      expect(onFlood).not.toHaveBeenCalled();
      collector.push(flooding.subarray(18));

      expect(onFlood).toHaveBeenCalledTimes(1);
      expect(collector.stderr).toEqual({ bytes: Buffer.from('zzzz'), truncated: true, totalBytes: 11 });
    });
  });
});

describe('OutputCollector report marker', () => {
  const MARKER = Buffer.from('warmpool-report-0123456789abcdef');
  const REPORT = Buffer.concat([Buffer.from(' 0 0\n'), binary, frame(STDOUT, 'tar bytes')]);

  /** A collector that looks for MARKER, with what it hands to onReport and onFlood. */
  function reporting(limits = ROOMY) {
    const reports: Buffer[] = [];
    const onFlood = jest.fn();
    const collector = new OutputCollector(limits, {
      onFlood,
      reportMarker: MARKER,
      onReport: (payload) => reports.push(Buffer.from(payload)),
    });
    return { collector, onFlood, report: () => Buffer.concat(reports) };
  }

  function feed(collector: OutputCollector, chunks: Buffer[]): void {
    for (const chunk of chunks) collector.push(chunk);
    collector.end();
  }

  it("keeps stdout before the marker as the program's and hands everything after it to onReport", () => {
    const { collector, report } = reporting();

    feed(collector, [
      frame(STDOUT, 'program output\n'),
      frame(STDOUT, Buffer.concat([Buffer.from('last line\n'), MARKER, REPORT.subarray(0, 4)])),
      frame(STDOUT, REPORT.subarray(4)),
    ]);

    expect(collector.stdout).toEqual({
      bytes: Buffer.from('program output\nlast line\n'),
      truncated: false,
      totalBytes: 25,
    });
    expect(report()).toEqual(REPORT);
    expect(collector.reportStarted).toBe(true);
  });

  it('takes a marker at the very start of stdout, and one that ends a frame', () => {
    const { collector, report } = reporting();

    feed(collector, [frame(STDOUT, MARKER), frame(STDOUT, REPORT)]);

    expect(collector.stdout).toEqual({ bytes: Buffer.alloc(0), truncated: false, totalBytes: 0 });
    expect(report()).toEqual(REPORT);
  });

  it('hands on a second copy of the marker as report bytes, untouched', () => {
    const { collector, report } = reporting();
    const after = Buffer.concat([Buffer.from(' 0 0\n'), MARKER, Buffer.from('more')]);

    feed(collector, [frame(STDOUT, Buffer.concat([Buffer.from('out'), MARKER, after]))]);

    expect(collector.stdout.bytes.toString()).toBe('out');
    expect(report()).toEqual(after);
  });

  it('counts no report bytes against the output limit or the flood allowance', () => {
    const { collector, onFlood, report } = reporting({ limitBytes: 4, floodAllowanceBytes: 2 });
    const bigReport = Buffer.alloc(10_000, 'r');

    feed(collector, [frame(STDOUT, Buffer.concat([Buffer.from('abcd'), MARKER])), frame(STDOUT, bigReport)]);

    expect(collector.stdout).toEqual({ bytes: Buffer.from('abcd'), truncated: false, totalBytes: 4 });
    expect(report()).toEqual(bigReport);
    expect(onFlood).not.toHaveBeenCalled();
    expect(collector.hasFlooded).toBe(false);
  });

  it("still caps the program's own stdout and calls onFlood for it", () => {
    const { collector, onFlood, report } = reporting({ limitBytes: 4, floodAllowanceBytes: 2 });

    feed(collector, [frame(STDOUT, Buffer.concat([Buffer.from('x'.repeat(100)), MARKER, REPORT]))]);

    expect(collector.stdout).toEqual({ bytes: Buffer.from('xxxx'), truncated: true, totalBytes: 100 });
    expect(onFlood).toHaveBeenCalledTimes(1);
    expect(report()).toEqual(REPORT);
  });

  it('never looks for the marker on stderr', () => {
    const { collector, report } = reporting();
    const stderr = Buffer.concat([Buffer.from('err '), MARKER, Buffer.from(' 0 0\n')]);

    feed(collector, [frame(STDERR, stderr), frame(STDOUT, 'out')]);

    expect(collector.stderr.bytes).toEqual(stderr);
    expect(collector.stdout.bytes.toString()).toBe('out');
    expect(report()).toEqual(Buffer.alloc(0));
    expect(collector.reportStarted).toBe(false);
  });

  it('finds the marker wherever the stream is cut in two, frame headers included', () => {
    const stream = Buffer.concat([
      frame(STDOUT, 'before\n'),
      frame(STDERR, 'warn\n'),
      frame(STDOUT, Buffer.concat([MARKER, REPORT])),
    ]);
    const differing: number[] = [];

    for (let at = 0; at <= stream.length; at += 1) {
      const { collector, report } = reporting();
      feed(collector, [stream.subarray(0, at), stream.subarray(at)]);
      const right =
        collector.stdout.bytes.toString() === 'before\n' &&
        collector.stdout.totalBytes === 7 &&
        collector.stderr.bytes.toString() === 'warn\n' &&
        report().equals(REPORT);
      if (!right) differing.push(at);
    }

    expect(differing).toEqual([]);
  });

  it('finds the marker split across two frames at every position, stderr in between or not', () => {
    const differing: Array<[number, boolean]> = [];

    for (let at = 0; at <= MARKER.length; at += 1) {
      for (const stderrBetween of [false, true]) {
        const { collector, report } = reporting();
        feed(collector, [
          frame(STDOUT, Buffer.concat([Buffer.from('out'), MARKER.subarray(0, at)])),
          ...(stderrBetween ? [frame(STDERR, 'err')] : []),
          frame(STDOUT, Buffer.concat([MARKER.subarray(at), REPORT])),
        ]);
        const right = collector.stdout.bytes.toString() === 'out' && report().equals(REPORT);
        if (!right) differing.push([at, stderrBetween]);
      }
    }

    expect(differing).toEqual([]);
  });

  it('finds the marker when stdout comes one byte per frame', () => {
    const { collector, report } = reporting();
    const stdout = Buffer.concat([Buffer.from('out'), MARKER, REPORT]);

    feed(
      collector,
      [...stdout].map((byte) => frame(STDOUT, Buffer.from([byte]))),
    );

    expect(collector.stdout.bytes.toString()).toBe('out');
    expect(report()).toEqual(REPORT);
  });

  it('finds the marker after a false start that shares its beginning', () => {
    const { collector, report } = reporting();
    const falseStart = MARKER.subarray(0, 10);

    feed(collector, [frame(STDOUT, falseStart), frame(STDOUT, Buffer.concat([MARKER, REPORT]))]);

    expect(collector.stdout.bytes).toEqual(falseStart);
    expect(report()).toEqual(REPORT);
  });

  it('gives back stdout that ends with any beginning of the marker, complete, after end()', () => {
    const differing: number[] = [];

    for (let length = 1; length < MARKER.length; length += 1) {
      const { collector, report } = reporting();
      const stdout = Buffer.concat([Buffer.from('output'), MARKER.subarray(0, length)]);
      feed(collector, [frame(STDOUT, stdout)]);
      const right =
        collector.stdout.bytes.equals(stdout) &&
        collector.stdout.totalBytes === stdout.length &&
        report().length === 0 &&
        !collector.reportStarted;
      if (!right) differing.push(length);
    }

    expect(differing).toEqual([]);
  });

  it('holds back fewer bytes than the marker has until end()', () => {
    const { collector } = reporting();
    const stdout = Buffer.alloc(100, 'x');

    collector.push(frame(STDOUT, stdout));

    expect(collector.stdout.bytes.length).toBeGreaterThanOrEqual(stdout.length - (MARKER.length - 1));
    collector.end();
    expect(collector.stdout.bytes).toEqual(stdout);
  });

  it('gives back output with no marker at all whole after end()', () => {
    const { collector, report } = reporting();

    feed(collector, [mixed]);

    expect(collector.stdout).toEqual(collect([mixed]).stdout);
    expect(collector.stderr).toEqual(collect([mixed]).stderr);
    expect(report()).toEqual(Buffer.alloc(0));
    expect(collector.reportStarted).toBe(false);
  });

  it('gives back stdout shorter than the marker whole after end()', () => {
    const { collector } = reporting();

    feed(collector, [frame(STDOUT, 'ok')]);

    expect(collector.stdout).toEqual({ bytes: Buffer.from('ok'), truncated: false, totalBytes: 2 });
  });

  it('caps and counts stdout held back until end() like any other', () => {
    const { collector, onFlood } = reporting({ limitBytes: 3, floodAllowanceBytes: 1 });

    feed(collector, [frame(STDOUT, 'abcde')]);

    expect(collector.stdout).toEqual({ bytes: Buffer.from('abc'), truncated: true, totalBytes: 5 });
    expect(onFlood).toHaveBeenCalledTimes(1);
  });

  it('changes nothing when end() is called twice', () => {
    const { collector } = reporting();

    feed(collector, [frame(STDOUT, 'some output')]);
    collector.end();

    expect(collector.stdout).toEqual({ bytes: Buffer.from('some output'), truncated: false, totalBytes: 11 });
  });
});
