import {
  compareSandbox,
  type FilesOut,
  type FilesOutLimits,
  sandboxFingerprints,
} from '../../src/runner/sandbox-files';
import { makeTar, makeTgz, type TestEntry } from './support/tgz';

const MAIN: TestEntry = { name: 'tmp/main.sh', content: 'echo hi\n', mode: 0o755 };
const ROOMY: FilesOutLimits = { maxFiles: 100, maxFileBytes: 1024, maxTotalBytes: 100_000 };

/** The "before" of a run given `files` under sandbox/, taken from its plain tar as the runner takes it. */
async function sent(files: Record<string, string | Buffer>): Promise<Map<string, string>> {
  const entries = Object.entries(files).map(([path, content]) => ({ name: `sandbox/${path}`, content }));
  return sandboxFingerprints(await makeTar([MAIN, ...entries]));
}

/** What `cd /sandbox && tar -cf - .` writes: the folder itself as "./", then every entry under "./". */
function sandboxTar(entries: TestEntry[]): Promise<Buffer> {
  return makeTar([{ name: './', type: 'directory' }, ...entries]);
}

/** The files of a sandbox, as entries of its tar. */
function filesOf(files: Record<string, string | Buffer>): TestEntry[] {
  return Object.entries(files).map(([path, content]) => ({ name: `./${path}`, content }));
}

/** Feeds a tar to a comparison in pieces, as the exec stream brings it, and waits for the result. */
async function compare(before: Map<string, string>, tar: Buffer, limits = ROOMY, pieceBytes = 100): Promise<FilesOut> {
  const comparison = compareSandbox(before, limits);
  for (let at = 0; at < tar.length; at += pieceBytes) comparison.write(tar.subarray(at, at + pieceBytes));
  comparison.end();
  return comparison.result;
}

describe('sandboxFingerprints', () => {
  it('fingerprints each file under sandbox/, keyed by its path below sandbox/', async () => {
    const archive = await makeTar([
      MAIN,
      { name: 'sandbox/', type: 'directory' },
      { name: 'sandbox/a.txt', content: 'same' },
      { name: 'sandbox/d/', type: 'directory' },
      { name: 'sandbox/d/b.txt', content: 'same' },
      { name: 'sandbox/c.txt', content: 'other' },
    ]);

    const fingerprints = await sandboxFingerprints(archive);

    expect([...fingerprints.keys()]).toEqual(['a.txt', 'd/b.txt', 'c.txt']);
    expect(fingerprints.get('a.txt')).toBe(fingerprints.get('d/b.txt'));
    expect(fingerprints.get('a.txt')).not.toBe(fingerprints.get('c.txt'));
  });

  it('leaves out tmp/, folders and names that only start like sandbox', async () => {
    const archive = await makeTar([
      MAIN,
      { name: 'tmp/data.txt', content: 'x' },
      { name: 'sandbox/', type: 'directory' },
      { name: 'sandbox/empty/', type: 'directory' },
      { name: 'sandboxed/a.txt', content: 'x' },
      { name: 'sandbox/kept.txt', content: 'x' },
    ]);

    expect([...(await sandboxFingerprints(archive)).keys()]).toEqual(['kept.txt']);
  });

  it('takes names written with a leading "./", as tar writes them', async () => {
    const archive = await makeTar([
      { ...MAIN, name: './tmp/main.sh' },
      { name: './sandbox/a.txt', content: 'x' },
    ]);

    expect([...(await sandboxFingerprints(archive)).keys()]).toEqual(['a.txt']);
  });

  it('tells apart files that differ only far into their content', async () => {
    const head = 'x'.repeat(100_000);

    const fingerprints = await sent({ 'a.txt': `${head}a`, 'b.txt': `${head}b` });

    expect(fingerprints.get('a.txt')).not.toBe(fingerprints.get('b.txt'));
  });

  it("rejects data that is not a tar, a gzip'd tar included", async () => {
    await expect(sandboxFingerprints(Buffer.alloc(1024, 'not a tar header '))).rejects.toThrow();
    await expect(sandboxFingerprints(await makeTgz([MAIN, { name: 'sandbox/a.txt', content: 'x' }]))).rejects.toThrow();
  });
});

describe('compareSandbox', () => {
  it('reports a file the run created, with its content', async () => {
    const tar = await sandboxTar(filesOf({ 'out.txt': 'result\n' }));

    const files = await compare(await sent({}), tar);

    expect(files).toEqual({
      changed: [{ path: 'out.txt', change: 'created', size: 7, content: 'result\n', truncated: false, binary: false }],
      deleted: [],
      truncated: false,
    });
  });

  it('reports a file the run was given and changed as modified, with its new content', async () => {
    const tar = await sandboxTar(filesOf({ 'data.txt': 'new' }));

    const files = await compare(await sent({ 'data.txt': 'old' }), tar);

    expect(files.changed).toEqual([
      { path: 'data.txt', change: 'modified', size: 3, content: 'new', truncated: false, binary: false },
    ]);
  });

  it('leaves out the files the run was given and left as they were', async () => {
    const before = await sent({ 'same.txt': 'unchanged', 'd/same.txt': 'also unchanged' });
    const tar = await sandboxTar([
      ...filesOf({ 'same.txt': 'unchanged' }),
      { name: './d/', type: 'directory' },
      ...filesOf({ 'd/same.txt': 'also unchanged' }),
    ]);

    expect(await compare(before, tar)).toEqual({ changed: [], deleted: [], truncated: false });
  });

  it('compares whole contents, so an unchanged file over maxFileBytes is left out', async () => {
    const big = `${'x'.repeat(5000)}end`;
    const limits = { ...ROOMY, maxFileBytes: 10 };

    const files = await compare(await sent({ 'big.txt': big }), await sandboxTar(filesOf({ 'big.txt': big })), limits);

    expect(files.changed).toEqual([]);
  });

  it('reports a file changed only past maxFileBytes as modified', async () => {
    const head = 'x'.repeat(5000);
    const limits = { ...ROOMY, maxFileBytes: 10 };
    const tar = await sandboxTar(filesOf({ 'big.txt': `${head}new` }));

    const files = await compare(await sent({ 'big.txt': `${head}old` }), tar, limits);

    expect(files.changed).toEqual([
      { path: 'big.txt', change: 'modified', size: 5003, content: 'x'.repeat(10), truncated: true, binary: false },
    ]);
  });

  it('lists the paths the run was given that are gone, sorted', async () => {
    const before = await sent({ 'z.txt': '1', 'kept.txt': '2', 'a.txt': '3', 'd/b.txt': '4' });

    const files = await compare(before, await sandboxTar(filesOf({ 'kept.txt': '2' })));

    expect(files).toEqual({ changed: [], deleted: ['a.txt', 'd/b.txt', 'z.txt'], truncated: false });
  });

  it('lists changed files sorted by path, whatever order the tar has them in', async () => {
    const tar = await sandboxTar([
      ...filesOf({ 'z.txt': 'z' }),
      { name: './m/', type: 'directory' },
      ...filesOf({ 'm/x.txt': 'x', 'a.txt': 'a' }),
    ]);

    const files = await compare(await sent({}), tar);

    expect(files.changed.map((file) => file.path)).toEqual(['a.txt', 'm/x.txt', 'z.txt']);
  });

  it('passes over folders and symlinks', async () => {
    const tar = await sandboxTar([
      { name: './d/', type: 'directory' },
      { name: './d/e/', type: 'directory' },
      { name: './link', type: 'symlink', linkname: '/etc/passwd' },
      { name: './d/inner-link', type: 'symlink', linkname: '../link' },
      ...filesOf({ 'd/e/f.txt': 'f' }),
    ]);

    const files = await compare(await sent({}), tar);

    expect(files.changed.map((file) => file.path)).toEqual(['d/e/f.txt']);
  });

  it.each<[string, Buffer]>([
    ['a NUL byte', Buffer.from('text\0more text')],
    ['invalid UTF-8', Buffer.from([0x61, 0x62, 0xff, 0x63])],
    ['a lone continuation byte', Buffer.from([0x61, 0x80, 0x62])],
    ['a character cut short at the very end', Buffer.from([0x61, 0x62, 0xc3])],
  ])('marks a file with %s as binary, without content', async (_what, content) => {
    const files = await compare(await sent({}), await sandboxTar(filesOf({ 'data.bin': content })));

    expect(files.changed).toEqual([
      { path: 'data.bin', change: 'created', size: content.length, content: null, truncated: false, binary: true },
    ]);
  });

  it('keeps text in any script, byte for byte', async () => {
    const text = 'ünïcødé ✓ 日本 😀\r\n\ttabbed';

    const files = await compare(await sent({}), await sandboxTar(filesOf({ 'u.txt': text })));

    expect(files.changed[0]).toMatchObject({ content: text, size: Buffer.byteLength(text), binary: false });
  });

  it('cuts text at maxFileBytes and marks it truncated, but not text of exactly maxFileBytes', async () => {
    const limits = { ...ROOMY, maxFileBytes: 5 };
    const tar = await sandboxTar(filesOf({ 'long.txt': 'hello world', 'exact.txt': 'hello' }));

    const files = await compare(await sent({}), tar, limits);

    expect(files.changed).toEqual([
      { path: 'exact.txt', change: 'created', size: 5, content: 'hello', truncated: false, binary: false },
      { path: 'long.txt', change: 'created', size: 11, content: 'hello', truncated: true, binary: false },
    ]);
  });

  it.each([1, 2, 3])('keeps text cut %d byte(s) into a four-byte character as text', async (into) => {
    const text = `abc😀${'z'.repeat(10)}`;
    const limits = { ...ROOMY, maxFileBytes: 3 + into };

    const files = await compare(await sent({}), await sandboxTar(filesOf({ 'emoji.txt': text })), limits);

    expect(files.changed).toHaveLength(1);
    expect(files.changed[0]).toMatchObject({ binary: false, truncated: true, size: Buffer.byteLength(text) });
    // The character cut in two is dropped or shown as U+FFFD, never as bytes of another.
    expect(files.changed[0].content).toMatch(/^abc\uFFFD?$/u);
  });

  it('keeps text cut inside a two-byte character as text', async () => {
    const limits = { ...ROOMY, maxFileBytes: 4 };

    const files = await compare(await sent({}), await sandboxTar(filesOf({ 'e.txt': 'abcé and more' })), limits);

    expect(files.changed[0]).toMatchObject({ binary: false, truncated: true, size: 14, content: 'abc' });
  });

  it('leaves off a three-byte character cut after its first two bytes', async () => {
    const limits = { ...ROOMY, maxFileBytes: 5 };

    const files = await compare(await sent({}), await sandboxTar(filesOf({ 'e.txt': 'abc€ and more' })), limits);

    expect(files.changed[0]).toMatchObject({ binary: false, truncated: true, content: 'abc' });
  });

  it('calls a file binary when an invalid byte sits just before the cut', async () => {
    const limits = { ...ROOMY, maxFileBytes: 4 };
    const tar = await sandboxTar(filesOf({ 'x.dat': Buffer.from([0x61, 0x62, 0x63, 0xff, 0x41, 0x42]) }));

    const files = await compare(await sent({}), tar, limits);

    expect(files.changed[0]).toMatchObject({ binary: true, content: null });
  });

  it('leaves out files past maxFiles and says so', async () => {
    const limits = { ...ROOMY, maxFiles: 2 };
    const tar = await sandboxTar(filesOf({ 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' }));

    const files = await compare(await sent({}), tar, limits);

    expect(files.changed.map((file) => file.path)).toEqual(['a.txt', 'b.txt']);
    expect(files.truncated).toBe(true);
  });

  it('is not truncated with exactly maxFiles changed files', async () => {
    const limits = { ...ROOMY, maxFiles: 2 };

    const files = await compare(await sent({}), await sandboxTar(filesOf({ 'a.txt': 'a', 'b.txt': 'b' })), limits);

    expect(files.changed).toHaveLength(2);
    expect(files.truncated).toBe(false);
  });

  it('counts only changed files against maxFiles', async () => {
    const limits = { ...ROOMY, maxFiles: 1 };
    const before = await sent({ 'same-1.txt': '1', 'same-2.txt': '2' });
    const tar = await sandboxTar(filesOf({ 'same-1.txt': '1', 'same-2.txt': '2', 'new.txt': 'n' }));

    const files = await compare(before, tar, limits);

    expect(files).toEqual({
      changed: [{ path: 'new.txt', change: 'created', size: 1, content: 'n', truncated: false, binary: false }],
      deleted: [],
      truncated: false,
    });
  });

  it('leaves out a file whose content would go over maxTotalBytes, keeps a later one that fits, and says so', async () => {
    const limits = { ...ROOMY, maxTotalBytes: 6 };
    const tar = await sandboxTar(filesOf({ 'a.txt': 'aaaa', 'b.txt': 'bbbb', 'c.txt': 'cc' }));

    const files = await compare(await sent({}), tar, limits);

    expect(files.changed.map((file) => [file.path, file.content])).toEqual([
      ['a.txt', 'aaaa'],
      ['c.txt', 'cc'],
    ]);
    expect(files.truncated).toBe(true);
  });

  it('counts the content kept, not the size of the file, against maxTotalBytes', async () => {
    const limits = { ...ROOMY, maxFileBytes: 3, maxTotalBytes: 6 };
    const tar = await sandboxTar(filesOf({ 'a.txt': 'a'.repeat(100), 'b.txt': 'b'.repeat(100) }));

    const files = await compare(await sent({}), tar, limits);

    expect(files.changed.map((file) => file.content)).toEqual(['aaa', 'bbb']);
    expect(files.truncated).toBe(false);
  });

  it('takes in a binary file larger than maxTotalBytes, since none of its content is kept', async () => {
    const limits = { ...ROOMY, maxTotalBytes: 10 };
    const tar = await sandboxTar(filesOf({ 'big.bin': Buffer.alloc(20, 0) }));

    const files = await compare(await sent({}), tar, limits);

    expect(files.changed).toEqual([
      { path: 'big.bin', change: 'created', size: 20, content: null, truncated: false, binary: true },
    ]);
    expect(files.truncated).toBe(false);
  });

  it('reports the second name of a hard-linked file, and does not call the first one deleted', async () => {
    const tar = await sandboxTar([
      { name: './b.txt', content: 'shared\n' },
      { name: './a.txt', type: 'link', linkname: './b.txt' },
    ]);

    const files = await compare(await sent({ 'a.txt': 'shared\n' }), tar);

    expect(files.deleted).toEqual([]);
    expect(files.changed).toEqual([
      { path: 'b.txt', change: 'created', size: 7, content: 'shared\n', truncated: false, binary: false },
    ]);
  });

  it('counts no content of a binary file against maxTotalBytes', async () => {
    const limits = { ...ROOMY, maxTotalBytes: 8 };
    const tar = await sandboxTar(filesOf({ 'a.bin': Buffer.from([0, 1, 2, 3, 4]), 'b.txt': 'b'.repeat(8) }));

    const files = await compare(await sent({}), tar, limits);

    expect(files.changed.map((file) => file.path)).toEqual(['a.bin', 'b.txt']);
    expect(files.truncated).toBe(false);
  });

  it('gives the same result however the tar is cut into chunks', async () => {
    const before = await sent({ 'gone.txt': 'g', 'changed.txt': 'old', 'same.txt': 's' });
    const tar = await sandboxTar([
      ...filesOf({ 'changed.txt': 'new', 'same.txt': 's', 'new.txt': 'ünïcødé', 'blob.bin': Buffer.from([0, 1]) }),
      { name: './d/', type: 'directory' },
      ...filesOf({ 'd/deep.txt': 'x'.repeat(3000) }),
    ]);
    const whole = await compare(before, tar, ROOMY, tar.length);

    for (const pieceBytes of [1, 7, 511, 512, 513, 4096]) {
      expect(await compare(before, tar, ROOMY, pieceBytes)).toEqual(whole);
    }
    expect(whole.changed.map((file) => [file.path, file.change])).toEqual([
      ['blob.bin', 'created'],
      ['changed.txt', 'modified'],
      ['d/deep.txt', 'created'],
      ['new.txt', 'created'],
    ]);
    expect(whole.deleted).toEqual(['gone.txt']);
  });

  it('reports every file given as deleted for a sandbox left empty', async () => {
    const files = await compare(await sent({ 'a.txt': 'a', 'b.txt': 'b' }), await sandboxTar([]));

    expect(files).toEqual({ changed: [], deleted: ['a.txt', 'b.txt'], truncated: false });
  });

  it('rejects data that is not a tar', async () => {
    const comparison = compareSandbox(await sent({}), ROOMY);

    comparison.write(Buffer.alloc(1024, 'not a tar header '));
    comparison.end();

    await expect(comparison.result).rejects.toThrow();
  });
});

describe('compareSandbox and hard links to files left as they were', () => {
  it('gives a new name of an unchanged file its content, whichever name tar writes first', async () => {
    const before = await sent({ 'a.txt': 'kept\n' });
    const tar = await sandboxTar([
      { name: './a.txt', content: 'kept\n' },
      { name: './b.txt', type: 'link', linkname: './a.txt' },
    ]);

    const files = await compare(before, tar);

    expect(files).toEqual({
      changed: [{ path: 'b.txt', change: 'created', size: 5, content: 'kept\n', truncated: false, binary: false }],
      deleted: [],
      truncated: false,
    });
  });
});
