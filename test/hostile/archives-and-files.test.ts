import { BUSYBOX, poolLevels, PYTHON, run } from '../support/daemon-harness';
import { useReplica } from '../support/use-replica';
import { type ArchiveEntry, postArchive, tgz } from '../support/tgz';

const MAIN: ArchiveEntry = { name: 'tmp/main.sh', content: 'echo ran', mode: 0o755 };

describe.each([BUSYBOX, PYTHON])('archives in and files out in %s', (image) => {
  const replica = useReplica('archives', { pools: [{ image, size: 2 }] }, { healthyAfterEach: true });

  it.each<[string, ArchiveEntry, RegExp]>([
    ['an absolute path', { name: '/etc/cron.d/evil', content: 'x' }, /"\/etc\/cron.d\/evil": expected a relative path/],
    ['a ".." segment', { name: 'sandbox/../../etc/passwd', content: 'x' }, /"sandbox\/..\/..\/etc\/passwd".*"\.\."/],
    [
      'a symbolic link',
      { name: 'sandbox/link', type: 'symlink', linkname: '/etc/shadow' },
      /"sandbox\/link": expected a file or directory, got a symlink/,
    ],
    [
      'a hard link',
      { name: 'sandbox/hard', type: 'link', linkname: 'tmp/main.sh' },
      /"sandbox\/hard": expected a file or directory, got a link/,
    ],
    [
      'a device node',
      { name: 'sandbox/dev', type: 'character-device' },
      /"sandbox\/dev": expected a file or directory, got a character-device/,
    ],
    [
      'an entry outside tmp/ and sandbox/',
      { name: 'home/sandbox/.profile', content: 'x' },
      /"home\/sandbox\/.profile": expected a path under tmp\/ or sandbox\//,
    ],
  ])('refuses an archive with %s, naming the entry, before taking a container', async (_kind, entry, message) => {
    const before = await poolLevels(replica.url, image);

    const { status, body } = await postArchive(replica.url, { image }, await tgz([MAIN, entry]));

    expect(status).toBe(400);
    expect(body.error).toMatch(message);
    const after = await poolLevels(replica.url, image);
    expect({ hits: after.hits, misses: after.misses }).toEqual({ hits: before.hits, misses: before.misses });
  });

  it('refuses data that is not gzip, or gzip that is not tar, with a 400', async () => {
    const notGzip = await postArchive(replica.url, { image }, Buffer.from('plain text'));
    const notTar = await postArchive(replica.url, { image }, require('node:zlib').gzipSync(Buffer.alloc(1024, 7)));

    expect([notGzip.status, notTar.status]).toEqual([400, 400]);
    expect(notGzip.body.error).toMatch(/not valid gzip/);
    expect(notTar.body.error).toMatch(/tar/);
  });

  it('takes an empty files map, sub-folders, spaces and non-ASCII names', async () => {
    const empty = await run(replica.url, image, 'ls -A /sandbox | wc -l', { files: {} });
    const named = await run(replica.url, image, 'cat "a b/ç/naïve file.txt" "日本/語.txt"', {
      files: { 'a b/ç/naïve file.txt': 'accents\n', '日本/語.txt': 'kanji\n' },
    });

    expect(empty.stdout.content.trim()).toBe('0');
    expect(named.stdout.content).toBe('accents\nkanji\n');
  });

  it('keeps the executable bit of a file in a tar pipe', async () => {
    const archive = await tgz([
      { name: 'tmp/main.sh', content: './tool.sh; [ -x plain.txt ] || echo "plain is not executable"', mode: 0o755 },
      { name: 'sandbox/tool.sh', content: '#!/bin/sh\necho tool ran\n', mode: 0o755 },
      { name: 'sandbox/plain.txt', content: 'x', mode: 0o644 },
    ]);

    const { status, body } = await postArchive(replica.url, { image }, archive);

    expect(status).toBe(200);
    expect(body.stdout.content).toBe('tool ran\nplain is not executable\n');
  });

  it('brings back the text files a run created or changed, lists binary ones and deleted paths', async () => {
    const result = await run(
      replica.url,
      image,
      [
        'echo new > created.txt',
        'mkdir -p out/deep && echo nested > out/deep/result.txt',
        'echo more >> changed.txt',
        'rm removed.txt',
        'head -c 300 /dev/zero > zeros.bin',
      ].join('\n'),
      { files: { 'changed.txt': 'start\n', 'removed.txt': 'bye\n', 'same.txt': 'unchanged\n' } },
    );

    expect(result.files).toEqual({
      changed: [
        {
          path: 'changed.txt',
          change: 'modified',
          size: 11,
          content: 'start\nmore\n',
          truncated: false,
          binary: false,
        },
        { path: 'created.txt', change: 'created', size: 4, content: 'new\n', truncated: false, binary: false },
        {
          path: 'out/deep/result.txt',
          change: 'created',
          size: 7,
          content: 'nested\n',
          truncated: false,
          binary: false,
        },
        { path: 'zeros.bin', change: 'created', size: 300, content: null, truncated: false, binary: true },
      ],
      deleted: ['removed.txt'],
      truncated: false,
    });
  });

  it('caps the number of files brought back, and flags what it left out', async () => {
    const { filesMaxCount } = replica.config.run;
    const result = await run(
      replica.url,
      image,
      `for i in $(seq 1 ${filesMaxCount + 20}); do echo $i > "many-$i.txt"; done`,
    );

    expect(result.files?.truncated).toBe(true);
    expect(result.files?.changed).toHaveLength(filesMaxCount);
  });

  it('cuts a long text file at the per-file cap', async () => {
    const { filesMaxFileBytes } = replica.config.run;
    const result = await run(replica.url, image, `head -c ${filesMaxFileBytes + 100} /dev/zero | tr "\\0" x > big.txt`);

    expect(result.files?.changed).toEqual([
      {
        path: 'big.txt',
        change: 'created',
        size: filesMaxFileBytes + 100,
        content: 'x'.repeat(filesMaxFileBytes),
        truncated: true,
        binary: false,
      },
    ]);
    expect(result.files?.truncated).toBe(false);
  });

  it('returns no files for a run that timed out, and none when not asked for', async () => {
    const timedOut = await run(replica.url, image, 'echo x > made.txt; sleep 30', { maxSeconds: 1 });
    const notAsked = await run(replica.url, image, 'echo x > made.txt', { returnFiles: false });

    expect(timedOut).toMatchObject({ outcome: 'timed_out', files: null });
    expect(notAsked).toMatchObject({ outcome: 'completed', files: null });
  });

  it('does not follow a link the program leaves to a file it cannot otherwise return', async () => {
    const result = await run(replica.url, image, 'ln -s /etc/passwd passwd-link; echo made > real.txt');

    expect(result.files?.changed.map((file) => file.path)).toEqual(['real.txt']);
  });
});
