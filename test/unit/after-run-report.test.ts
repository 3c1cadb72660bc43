import type { Logger } from '../../src/log/logger';
import { AfterRunReport } from '../../src/runner/after-run-report';
import { compareSandbox, type FilesOut, type SandboxComparison } from '../../src/runner/sandbox-files';
import { makeTar } from './support/tgz';

const FILES: FilesOut = {
  changed: [{ path: 'out.txt', change: 'created', size: 2, content: 'hi', truncated: false, binary: false }],
  deleted: ['gone.txt'],
  truncated: false,
};

/** A comparison that records what it is fed, and settles with `outcome` once ended. */
class FakeComparison implements SandboxComparison {
  readonly written: Buffer[] = [];
  ended = false;
  readonly result: Promise<FilesOut>;
  private settle!: () => void;

  constructor(outcome: FilesOut | Error = FILES) {
    this.result = new Promise<FilesOut>((resolve, reject) => {
      this.settle = () => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
    });
  }

  write(chunk: Buffer): void {
    if (this.ended) throw new Error('written after end');
    this.written.push(Buffer.from(chunk));
  }

  end(): void {
    this.ended = true;
    this.settle();
  }

  /** Every byte written, in order. */
  get bytes(): Buffer {
    return Buffer.concat(this.written);
  }
}

function fakeLog() {
  const warn = jest.fn();
  return { log: { warn } as unknown as Logger, warn };
}

/** A report fed `payloads` as the collector hands them on: the marker already gone. */
function reportOf(payloads: Array<string | Buffer>, comparison?: SandboxComparison): AfterRunReport {
  const report = new AfterRunReport(comparison);
  for (const payload of payloads) report.push(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
  return report;
}

describe('AfterRunReport', () => {
  it("reads main.sh's exit status and the OOM-kill count from the line after the marker", async () => {
    const { log } = fakeLog();

    expect(await reportOf([' 3 0\n']).finish(log)).toEqual({ exitCode: 3, oomKills: 0, files: null });
    expect(await reportOf([' 137 2\n']).finish(log)).toEqual({ exitCode: 137, oomKills: 2, files: null });
  });

  it('reads a line split across two pushes, wherever the split falls', async () => {
    const { log } = fakeLog();
    const line = ' 137 12\n';
    const differing: number[] = [];

    for (let at = 0; at <= line.length; at += 1) {
      const report = await reportOf([line.slice(0, at), line.slice(at)]).finish(log);
      if (report?.exitCode !== 137 || report.oomKills !== 12) differing.push(at);
    }

    expect(differing).toEqual([]);
  });

  it('reads a line that comes one byte at a time', async () => {
    const report = reportOf([...' 42 1\n']);

    expect(await report.finish(fakeLog().log)).toEqual({ exitCode: 42, oomKills: 1, files: null });
  });

  it('takes no report from a line that is not exactly " <status> <oom kills>"', async () => {
    const { log } = fakeLog();

    for (const line of [' 3\n', ' 3 many\n', '\n', ' \n', ' 0x10 0\n', ' -1 0\n', ' 3 0 extra\n']) {
      expect(await reportOf([line]).finish(log)).toBeUndefined();
    }
  });

  it('gives nothing when nothing was pushed: main.sh never got to report', async () => {
    const comparison = new FakeComparison();

    expect(await new AfterRunReport(comparison).finish(fakeLog().log)).toBeUndefined();
  });

  it('gives nothing when the line never ended', async () => {
    const comparison = new FakeComparison();

    expect(await reportOf([' 0', ' 0'], comparison).finish(fakeLog().log)).toBeUndefined();
    expect(comparison.written).toEqual([]);
  });

  it('gives nothing for a line without a readable status', async () => {
    expect(await reportOf([' done 0\n']).finish(fakeLog().log)).toBeUndefined();
  });

  it('hands the comparison the bytes after the newline, from the same push and from later ones', async () => {
    const comparison = new FakeComparison();
    const tail = Buffer.from([0x00, 0x0a, 0xff, 0x20, 0x0a]);

    const report = reportOf([' 0 0\nfirst', tail, Buffer.from('last')], comparison);
    expect(comparison.ended).toBe(false);
    const finished = await report.finish(fakeLog().log);

    expect(comparison.bytes).toEqual(Buffer.concat([Buffer.from('first'), tail, Buffer.from('last')]));
    expect(comparison.ended).toBe(true);
    expect(finished).toEqual({ exitCode: 0, oomKills: 0, files: FILES });
  });

  it('hands the comparison every byte after the newline wherever the pushes split, and none before', async () => {
    const stream = Buffer.concat([Buffer.from(' 1 0\n'), Buffer.from('tar bytes\nwith newlines\n')]);
    const differing: number[] = [];

    for (let at = 0; at <= stream.length; at += 1) {
      const comparison = new FakeComparison();
      const report = await reportOf([stream.subarray(0, at), stream.subarray(at)], comparison).finish(fakeLog().log);
      const expected = Buffer.from('tar bytes\nwith newlines\n');
      if (report?.exitCode !== 1 || !comparison.bytes.equals(expected)) differing.push(at);
    }

    expect(differing).toEqual([]);
  });

  it('gives files null when no comparison was asked for, whatever follows the line', async () => {
    const report = reportOf([' 0 0\n', 'stray bytes']);

    expect(await report.finish(fakeLog().log)).toEqual({ exitCode: 0, oomKills: 0, files: null });
  });

  it('gives files null and logs a warning when the comparison fails', async () => {
    const { log, warn } = fakeLog();
    const comparison = new FakeComparison(new Error('invalid tar header'));

    const report = await reportOf([' 0 0\n', 'not a tar'], comparison).finish(log);

    expect(report).toEqual({ exitCode: 0, oomKills: 0, files: null });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ error: 'invalid tar header' }));
  });

  it('brings the files of a real tar of /sandbox back through a real comparison', async () => {
    const tar = await makeTar([
      { name: './', type: 'directory' },
      { name: './out.txt', content: 'result' },
      { name: './d/', type: 'directory' },
      { name: './d/b', content: 'b' },
    ]);
    const comparison = compareSandbox(new Map(), { maxFiles: 10, maxFileBytes: 100, maxTotalBytes: 1000 });
    const payload = Buffer.concat([Buffer.from(' 0 0\n'), tar]);

    const pieces = [payload.subarray(0, 300), payload.subarray(300, 1200), payload.subarray(1200)];
    const finished = await reportOf(pieces, comparison).finish(fakeLog().log);

    expect(finished?.files?.changed.map((file) => [file.path, file.content])).toEqual([
      ['d/b', 'b'],
      ['out.txt', 'result'],
    ]);
  });

  it('gives files null and logs a warning when a real comparison is fed bytes that are not a tar', async () => {
    const { log, warn } = fakeLog();
    const comparison = compareSandbox(new Map(), { maxFiles: 10, maxFileBytes: 100, maxTotalBytes: 1000 });

    const report = await reportOf([' 2 0\n', Buffer.alloc(1024, 'not a tar ')], comparison).finish(log);

    expect(report).toEqual({ exitCode: 2, oomKills: 0, files: null });
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
