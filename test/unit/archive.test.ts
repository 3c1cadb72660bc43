import zlib from 'node:zlib';
import { InvalidRequestError } from '../../src/errors';
import { checkArchive, packRun } from '../../src/runner/archive';
import { makeTgz, readTar, type TestEntry } from './support/tgz';

const LIMITS = { maxEntries: 100, maxBytes: 100_000 };

const MAIN: TestEntry = { name: 'tmp/main.sh', content: 'echo hello\n', mode: 0o755 };

/** The InvalidRequestError message checkArchive rejects `archive` with, or a failure when it takes it. */
async function rejectionOf(archive: Buffer, limits = LIMITS): Promise<string> {
  try {
    await checkArchive(archive, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return (error as Error).message;
  }
  throw new Error('checkArchive took the archive');
}

describe('packRun', () => {
  it('packs main as an executable tmp/main.sh and each file under sandbox/, in a plain tar', async () => {
    const archive = await packRun('echo hi\n', { 'notes.txt': 'some notes' }, LIMITS);

    expect(archive.subarray(257, 262).toString()).toBe('ustar');
    expect(await readTar(archive)).toEqual([
      { name: 'tmp/main.sh', type: 'file', mode: 0o755, content: Buffer.from('echo hi\n') },
      { name: 'sandbox/notes.txt', type: 'file', mode: 0o644, content: Buffer.from('some notes') },
    ]);
  });

  it('keeps names with spaces, sub-folders, non-ASCII letters and more than 100 bytes', async () => {
    const long = `${'deep/'.repeat(30)}file.txt`;
    const files = { 'my notes.txt': 'a', 'src/lib/util.py': 'b', 'données/été ñ 日本.txt': 'c', [long]: 'd' };

    const entries = await readTar(await packRun('true', files, LIMITS));

    expect(entries.map((entry) => entry.name)).toEqual([
      'tmp/main.sh',
      'sandbox/my notes.txt',
      'sandbox/src/lib/util.py',
      'sandbox/données/été ñ 日本.txt',
      `sandbox/${long}`,
    ]);
  });

  it('keeps file content byte for byte as UTF-8', async () => {
    const text = 'ünïcødé ✓\nline two\r\n\ttabbed';

    const entries = await readTar(await packRun(text, { 'a.txt': text }, LIMITS));

    expect(entries.map((entry) => entry.content.toString('utf8'))).toEqual([text, text]);
  });

  it("makes the tar that checkArchive gives for the same archive gzip'd", async () => {
    const archive = await packRun('echo hi', { 'a/b.txt': 'x', 'c.txt': 'y' }, LIMITS);

    await expect(checkArchive(zlib.gzipSync(archive), LIMITS)).resolves.toEqual(archive);
  });

  const segments = 'expected a path without "..", "." or empty segments';
  it.each([
    ['an absolute path', '/etc/passwd', 'expected a relative path, got an absolute one'],
    ['a path of just ".."', '..', segments],
    ['a path starting with ".."', '../escape.txt', segments],
    ['a path climbing out through ".."', 'a/../../escape.txt', segments],
    ['a path of just "."', '.', segments],
    ['a path starting with "./"', './a.txt', segments],
    ['a path with an empty segment', 'a//b.txt', segments],
    ['a path ending in "/"', 'a/', segments],
    ['an empty path', '', 'expected a path of 1 to 1024 characters'],
    ['a path of 1025 characters', 'x'.repeat(1025), 'expected a path of 1 to 1024 characters'],
    ['a path with a NUL byte', 'a\0b', 'expected a path without NUL bytes'],
  ])('rejects %s as an InvalidRequestError naming the field', async (_what, path, problem) => {
    const packing = packRun('true', { [path]: 'x' }, LIMITS);

    await expect(packing).rejects.toThrow(InvalidRequestError);
    await expect(packing).rejects.toThrow(`files["${path}"]: ${problem}`);
  });

  it('takes as many files as maxEntries leaves beside main.sh, and no more', async () => {
    const limits = { maxEntries: 3, maxBytes: 1000 };

    await expect(packRun('true', { a: '1', b: '2' }, limits)).resolves.toBeInstanceOf(Buffer);
    await expect(packRun('true', { a: '1', b: '2', c: '3' }, limits)).rejects.toThrow(
      'files: expected at most 2 file(s), got 3',
    );
  });

  it('counts main.sh and every file, in UTF-8 bytes, against maxBytes', async () => {
    const limits = { maxEntries: 10, maxBytes: 10 };

    await expect(packRun('echo', { a: 'ééé' }, limits)).resolves.toBeInstanceOf(Buffer);
    await expect(packRun('echo', { a: 'éééx' }, limits)).rejects.toThrow(
      'files: expected at most 10 bytes of content in all, got 11',
    );
  });
});

describe('checkArchive', () => {
  it('takes tmp/main.sh with files and folders under sandbox/, and gives the tar unzipped', async () => {
    const archive = await makeTgz([
      { name: 'tmp/', type: 'directory' },
      MAIN,
      { name: 'sandbox/', type: 'directory' },
      { name: 'sandbox/lib/', type: 'directory' },
      { name: 'sandbox/lib/util.py', content: 'print(1)\n' },
      { name: 'tmp/scratch.txt', content: 'x' },
    ]);

    await expect(checkArchive(archive, LIMITS)).resolves.toEqual(zlib.gunzipSync(archive));
  });

  it('takes names written with a leading "./", as tar writes them', async () => {
    const archive = await makeTgz([
      { name: './tmp/', type: 'directory' },
      { ...MAIN, name: './tmp/main.sh' },
      { name: './sandbox/data.csv', content: 'a,b\n' },
    ]);

    await expect(checkArchive(archive, LIMITS)).resolves.toEqual(zlib.gunzipSync(archive));
  });

  it('takes exactly maxEntries entries and exactly maxBytes bytes', async () => {
    const archive = await makeTgz([MAIN, { name: 'sandbox/a', content: 'x'.repeat(89) }]);

    await expect(checkArchive(archive, { maxEntries: 2, maxBytes: 100 })).resolves.toEqual(zlib.gunzipSync(archive));
  });

  it.each<[string, TestEntry, string]>([
    [
      'an absolute path',
      { name: '/etc/passwd', content: 'root' },
      'archive entry "/etc/passwd": expected a relative path, got an absolute one',
    ],
    [
      'a ".." segment',
      { name: 'sandbox/../etc/passwd', content: 'root' },
      'archive entry "sandbox/../etc/passwd": expected a path without ".." segments',
    ],
    [
      'a ".." segment after "./"',
      { name: './tmp/../../etc/cron.d/x', content: 'x' },
      'archive entry "./tmp/../../etc/cron.d/x": expected a path without ".." segments',
    ],
    [
      'a symlink',
      { name: 'sandbox/link', type: 'symlink', linkname: '/etc/passwd' },
      'archive entry "sandbox/link": expected a file or directory, got a symlink',
    ],
    [
      'a hard link',
      { name: 'sandbox/hard', type: 'link', linkname: 'tmp/main.sh' },
      'archive entry "sandbox/hard": expected a file or directory, got a link',
    ],
    [
      'a character device',
      { name: 'sandbox/null', type: 'character-device' },
      'archive entry "sandbox/null": expected a file or directory, got a character-device',
    ],
    [
      'a block device',
      { name: 'sandbox/sda', type: 'block-device' },
      'archive entry "sandbox/sda": expected a file or directory, got a block-device',
    ],
    [
      'a fifo',
      { name: 'sandbox/pipe', type: 'fifo' },
      'archive entry "sandbox/pipe": expected a file or directory, got a fifo',
    ],
    [
      'a file outside tmp/ and sandbox/',
      { name: 'etc/passwd', content: 'root' },
      'archive entry "etc/passwd": expected a path under tmp/ or sandbox/',
    ],
    [
      'a folder outside tmp/ and sandbox/',
      { name: 'home/', type: 'directory' },
      'archive entry "home/": expected a path under tmp/ or sandbox/',
    ],
    [
      'a root that only starts like tmp',
      { name: 'tmpx/a', content: 'x' },
      'archive entry "tmpx/a": expected a path under tmp/ or sandbox/',
    ],
    [
      'a file named just tmp',
      { name: 'tmp', content: 'x' },
      'archive entry "tmp": expected a path under tmp/ or sandbox/',
    ],
    [
      'a file named just sandbox',
      { name: './sandbox', content: 'x' },
      'archive entry "./sandbox": expected a path under tmp/ or sandbox/',
    ],
  ])('rejects %s, naming the entry', async (_what, bad, message) => {
    const archive = await makeTgz([MAIN, bad]);

    expect(await rejectionOf(archive)).toBe(message);
  });

  it('rejects an archive of more than maxEntries entries', async () => {
    const archive = await makeTgz([MAIN, { name: 'sandbox/a' }, { name: 'sandbox/b' }, { name: 'sandbox/c' }]);

    expect(await rejectionOf(archive, { maxEntries: 3, maxBytes: 1000 })).toBe(
      'archive: expected at most 3 entries, got more',
    );
  });

  it('rejects an archive of more than maxBytes bytes, naming the entry that went over', async () => {
    const archive = await makeTgz([
      MAIN,
      { name: 'sandbox/small', content: 'x' },
      { name: 'sandbox/big', content: 'x'.repeat(90) },
    ]);

    expect(await rejectionOf(archive, { maxEntries: 10, maxBytes: 100 })).toBe(
      'archive: expected at most 100 bytes of content, got more by entry "sandbox/big"',
    );
  });

  it('rejects data that is not gzip', async () => {
    expect(await rejectionOf(Buffer.from('tmp/main.sh\0plain tar is not accepted'))).toMatch(
      /^archive: not valid gzip data: /,
    );
  });

  it('rejects gzip data cut short', async () => {
    const archive = await makeTgz([MAIN]);

    expect(await rejectionOf(archive.subarray(0, archive.length - 10))).toMatch(/^archive: not valid gzip data: /);
  });

  it.each([
    ['a short text', Buffer.from('hello, world')],
    ['a block of text', Buffer.alloc(1024, 'x')],
  ])('rejects gzip data that is not a tar: %s', async (_what, data) => {
    expect(await rejectionOf(zlib.gzipSync(data))).toMatch(/^archive: not a valid tar archive: /);
  });

  it.each<[string, TestEntry[]]>([
    ['no entries at all', []],
    ['only files under sandbox/', [{ name: 'sandbox/main.sh', content: 'echo' }]],
    ['main.sh elsewhere in tmp/', [{ name: 'tmp/sub/main.sh', content: 'echo' }]],
    ['tmp/main.sh as a folder', [{ name: 'tmp/main.sh/', type: 'directory' }]],
  ])('rejects an archive without tmp/main.sh: %s', async (_what, entries) => {
    expect(await rejectionOf(await makeTgz(entries))).toBe(
      'archive: expected an entry tmp/main.sh, the program to run',
    );
  });
});

describe('archive checks added for hostile callers', () => {
  const limits = { maxEntries: 10, maxBytes: 1024 * 1024 };

  it('refuses a path given as a file and as a folder at once', async () => {
    await expect(packRun('echo', { a: 'x', 'a/b': 'y' }, limits)).rejects.toThrow(
      'files["a/b"]: expected "a" to be a folder, but it is also given as a file',
    );
  });

  it('refuses an archive giving a path as a file and as a folder at once, naming the entry', async () => {
    const archive = await makeTgz([MAIN, { name: 'sandbox/a', content: 'x' }, { name: './sandbox/a/b', content: 'y' }]);

    await expect(checkArchive(archive, limits)).rejects.toThrow(
      'archive entry "sandbox/a/b": expected "sandbox/a" to be a folder, but it is also given as a file',
    );
  });

  it('refuses an entry for the archive root and says how to make the archive instead', async () => {
    const archive = await makeTgz([
      { name: './', type: 'directory' },
      { name: './tmp/main.sh', content: 'echo' },
    ]);

    await expect(checkArchive(archive, limits)).rejects.toThrow(/"\.\/".*tar -czf - tmp sandbox/);
  });

  it('stops reading a decompression bomb once it passes the unzipped limit', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));

    await expect(checkArchive(bomb, limits)).rejects.toThrow(/bytes once unzipped, got more/);
  });
});
