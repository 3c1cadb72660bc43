import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS, DEFAULT_RUN } from '../../src/config/defaults';
import { loadConfig, parseConfig } from '../../src/config/load-config';
import { ConfigError } from '../../src/errors';

const REPLICA_ENV = { WARMPOOL_REPLICA_ID: 'replica-a' };

/** The ConfigError message parseConfig throws for `file`, or a failure when it throws none. */
function messageFor(file: Record<string, unknown>, env: Record<string, string> = REPLICA_ENV): string {
  try {
    parseConfig(file, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`parseConfig took ${JSON.stringify(file)}`);
}

describe('parseConfig defaults', () => {
  it('fills in every default for an empty file', () => {
    const config = parseConfig({});

    expect(config).toEqual({
      replicaId: hostname(),
      host: '127.0.0.1',
      port: 4000,
      bodyLimitBytes: 16 * 1024 * 1024,
      maxConcurrentRuns: 8,
      maxQueuedRuns: 32,
      creationConcurrency: 2,
      dockerCallTimeoutMs: 30_000,
      readyTimeoutMs: 15_000,
      peers: [],
      run: DEFAULT_RUN,
      pools: [
        { image: 'warmpool-test/busybox', size: 2, limits: DEFAULT_LIMITS, outputLimitBytes: 1024 * 1024 },
        { image: 'warmpool-test/python', size: 1, limits: DEFAULT_LIMITS, outputLimitBytes: 1024 * 1024 },
      ],
    });
  });

  it('returns files by default, at most 100 of them, 64 KiB each and 1 MiB in all', () => {
    const config = parseConfig({});

    expect(config.run).toMatchObject({
      returnFiles: true,
      filesMaxCount: 100,
      filesMaxFileBytes: 64 * 1024,
      filesMaxTotalBytes: 1024 * 1024,
    });
  });

  it('keeps the run defaults for the fields a partial run section leaves out', () => {
    const config = parseConfig({ run: { defaultMaxSeconds: 2.5 } }, REPLICA_ENV);

    expect(config.run).toEqual({ ...DEFAULT_RUN, defaultMaxSeconds: 2.5 });
  });

  it('takes the values a file gives', () => {
    const config = parseConfig({
      replicaId: 'replica-b',
      host: '0.0.0.0',
      port: 8080,
      bodyLimitBytes: 4096,
      creationConcurrency: 3,
      dockerCallTimeoutMs: 1000,
      readyTimeoutMs: 2000,
      pools: [{ image: 'alpine:3', size: 0 }],
    });

    expect(config).toMatchObject({
      replicaId: 'replica-b',
      host: '0.0.0.0',
      port: 8080,
      bodyLimitBytes: 4096,
      creationConcurrency: 3,
      dockerCallTimeoutMs: 1000,
      readyTimeoutMs: 2000,
      pools: [{ image: 'alpine:3', size: 0, limits: DEFAULT_LIMITS, outputLimitBytes: 1024 * 1024 }],
    });
  });

  it('takes the settings for returned files a run section gives', () => {
    const run = { returnFiles: false, filesMaxCount: 5, filesMaxFileBytes: 100, filesMaxTotalBytes: 300 };

    const config = parseConfig({ run }, REPLICA_ENV);

    expect(config.run).toEqual({ ...DEFAULT_RUN, ...run });
  });

  it.each([
    ['filesMaxCount', 0, 100_000],
    ['filesMaxFileBytes', 0, 1024 ** 3],
    ['filesMaxTotalBytes', 0, 1024 ** 3],
  ])('takes run.%s from %d to %d and nothing beyond', (field, min, max) => {
    expect(parseConfig({ run: { [field]: min } }, REPLICA_ENV).run).toMatchObject({ [field]: min });
    expect(parseConfig({ run: { [field]: max } }, REPLICA_ENV).run).toMatchObject({ [field]: max });
    const range = `expected an integer from ${min} to ${max}`;
    expect(messageFor({ run: { [field]: min - 1 } })).toBe(`run.${field}: ${range}, got ${min - 1}`);
    expect(messageFor({ run: { [field]: max + 1 } })).toBe(`run.${field}: ${range}, got ${max + 1}`);
    expect(messageFor({ run: { [field]: 1.5 } })).toBe(`run.${field}: ${range}, got 1.5`);
  });

  it('keeps peers as given, without trailing slashes', () => {
    const config = parseConfig({ peers: ['http://10.0.0.2:4000/', 'https://peer.example//'] }, REPLICA_ENV);

    expect(config.peers).toEqual(['http://10.0.0.2:4000', 'https://peer.example']);
  });
});

describe('parseConfig environment', () => {
  const file = { replicaId: 'from-file', host: '127.0.0.2', port: 4001 };

  it('lets PORT, HOST and WARMPOOL_REPLICA_ID override the file', () => {
    const config = parseConfig(file, { PORT: '5000', HOST: '::1', WARMPOOL_REPLICA_ID: 'from-env' });

    expect(config).toMatchObject({ port: 5000, host: '::1', replicaId: 'from-env' });
  });

  it("keeps the file's values when those variables are unset", () => {
    const config = parseConfig(file, {});

    expect(config).toMatchObject({ port: 4001, host: '127.0.0.2', replicaId: 'from-file' });
  });

  it.each([
    ['abc', 'PORT: expected an integer from 0 to 65535, got "abc"'],
    ['70000', 'PORT: expected an integer from 0 to 65535, got "70000"'],
    ['80.5', 'PORT: expected an integer from 0 to 65535, got "80.5"'],
  ])('rejects PORT=%s naming it, the range and the value', (port, message) => {
    expect(messageFor({}, { ...REPLICA_ENV, PORT: port })).toBe(message);
  });

  it('checks a replica id from the environment like one from the file', () => {
    expect(messageFor({}, { WARMPOOL_REPLICA_ID: 'a/b' })).toBe(
      "replicaId: expected letters, digits, '.', '_' or '-' (at most 63), got \"a/b\"",
    );
  });
});

describe('parseConfig limits', () => {
  it("applies global limits over the defaults and each pool's limits over the global ones", () => {
    const config = parseConfig(
      {
        limits: { memoryMb: 512, cpus: 0.5 },
        pools: [
          { image: 'a', size: 1, limits: { memoryMb: 1024, pidsLimit: 64 } },
          { image: 'b', size: 1 },
        ],
      },
      REPLICA_ENV,
    );

    expect(config.pools[0].limits).toEqual({ ...DEFAULT_LIMITS, memoryMb: 1024, cpus: 0.5, pidsLimit: 64 });
    expect(config.pools[1].limits).toEqual({ ...DEFAULT_LIMITS, memoryMb: 512, cpus: 0.5 });
  });

  it('takes a fractional cpus but only whole numbers elsewhere', () => {
    expect(parseConfig({ limits: { cpus: 0.25 } }, REPLICA_ENV).pools[0].limits.cpus).toBe(0.25);
    expect(messageFor({ limits: { memoryMb: 256.5 } })).toBe(
      'limits.memoryMb: expected an integer from 16 to 65536, got 256.5',
    );
  });
});

describe('parseConfig output limit per pool', () => {
  it('gives every pool run.outputLimitBytes when the pool names none', () => {
    const config = parseConfig(
      {
        run: { outputLimitBytes: 2000 },
        pools: [
          { image: 'a', size: 1 },
          { image: 'b', size: 1 },
        ],
      },
      REPLICA_ENV,
    );

    expect(config.pools.map((pool) => pool.outputLimitBytes)).toEqual([2000, 2000]);
  });

  it('gives the demo pools run.outputLimitBytes too', () => {
    const config = parseConfig({ run: { outputLimitBytes: 3000 } }, REPLICA_ENV);

    expect(config.pools.map((pool) => pool.outputLimitBytes)).toEqual([3000, 3000]);
  });

  it("takes a pool's own outputLimitBytes, below or above the run default, up to the ceiling", () => {
    const config = parseConfig(
      {
        run: { outputLimitBytes: 2000, outputLimitCeilingBytes: 5000 },
        pools: [
          { image: 'a', size: 1, outputLimitBytes: 0 },
          { image: 'b', size: 1, outputLimitBytes: 5000 },
          { image: 'c', size: 1 },
        ],
      },
      REPLICA_ENV,
    );

    expect(config.pools.map((pool) => pool.outputLimitBytes)).toEqual([0, 5000, 2000]);
  });

  it("refuses a pool's outputLimitBytes above run.outputLimitCeilingBytes, naming the pool", () => {
    const file = {
      run: { outputLimitBytes: 1000, outputLimitCeilingBytes: 5000 },
      pools: [
        { image: 'a', size: 1 },
        { image: 'b', size: 1, outputLimitBytes: 5001 },
      ],
    };

    expect(messageFor(file)).toBe('pools[1].outputLimitBytes: expected an integer from 0 to 5000, got 5001');
  });

  it("measures a pool's outputLimitBytes against the default ceiling when the file sets none", () => {
    const ceiling = DEFAULT_RUN.outputLimitCeilingBytes;

    expect(parseConfig({ pools: [{ image: 'a', size: 1, outputLimitBytes: ceiling }] }).pools[0].outputLimitBytes).toBe(
      ceiling,
    );
    expect(messageFor({ pools: [{ image: 'a', size: 1, outputLimitBytes: ceiling + 1 }] })).toBe(
      `pools[0].outputLimitBytes: expected an integer from 0 to ${ceiling}, got ${ceiling + 1}`,
    );
  });
});

describe('parseConfig rejects bad input with a message naming the field, what was expected and what was found', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'a negative pool size',
      { pools: [{ image: 'a', size: -1 }] },
      'pools[0].size: expected an integer from 0 to 100, got -1',
    ],
    [
      'a pool size over 100',
      { pools: [{ image: 'a', size: 101 }] },
      'pools[0].size: expected an integer from 0 to 100, got 101',
    ],
    [
      'a fractional pool size',
      { pools: [{ image: 'a', size: 1.5 }] },
      'pools[0].size: expected an integer from 0 to 100, got 1.5',
    ],
    [
      'a pool size as text',
      { pools: [{ image: 'a', size: '2' }] },
      'pools[0].size: expected an integer from 0 to 100, got "2"',
    ],
    [
      'a pool without a size',
      { pools: [{ image: 'a' }] },
      'pools[0].size: expected an integer from 0 to 100, got nothing',
    ],
    ['a pool without an image', { pools: [{ size: 1 }] }, 'pools[0].image: expected an image name, got nothing'],
    ['an empty image name', { pools: [{ image: '', size: 1 }] }, 'pools[0].image: expected a non-empty string, got ""'],
    [
      'an image name that is not text',
      { pools: [{ image: 5, size: 1 }] },
      'pools[0].image: expected a non-empty string, got 5',
    ],
    ['a pool that is not an object', { pools: ['alpine'] }, 'pools[0]: expected an object, got "alpine"'],
    ['an empty pools array', { pools: [] }, 'pools: expected a non-empty array of {"image", "size"}, got []'],
    [
      'pools given as an object',
      { pools: { image: 'a' } },
      'pools: expected a non-empty array of {"image", "size"}, got {"image":"a"}',
    ],
    [
      'a bad value in the second pool',
      {
        pools: [
          { image: 'a', size: 1 },
          { image: 'b', size: 1, limits: { pidsLimit: 4 } },
        ],
      },
      'pools[1].limits.pidsLimit: expected an integer from 8 to 32768, got 4',
    ],
    ['a port out of range', { port: 70000 }, 'port: expected an integer from 0 to 65535, got 70000'],
    ['a host that is empty', { host: '' }, 'host: expected a non-empty string, got ""'],
    ['a host that is not text', { host: 1 }, 'host: expected a non-empty string, got 1'],
    [
      'a body limit under 1 KiB',
      { bodyLimitBytes: 10 },
      'bodyLimitBytes: expected an integer from 1024 to 1073741824, got 10',
    ],
    [
      'no creation concurrency',
      { creationConcurrency: 0 },
      'creationConcurrency: expected an integer from 1 to 64, got 0',
    ],
    [
      'a Docker call time-out under 100 ms',
      { dockerCallTimeoutMs: 50 },
      'dockerCallTimeoutMs: expected an integer from 100 to 600000, got 50',
    ],
    [
      'a ready time-out as text',
      { readyTimeoutMs: 'fast' },
      'readyTimeoutMs: expected an integer from 100 to 600000, got "fast"',
    ],
    ['limits that are not an object', { limits: 'big' }, 'limits: expected an object, got "big"'],
    ['no CPU at all', { limits: { cpus: 0 } }, 'limits.cpus: expected a number from 0.01 to 64, got 0'],
    ['too little memory', { limits: { memoryMb: 8 } }, 'limits.memoryMb: expected an integer from 16 to 65536, got 8'],
    [
      'runs as root',
      { limits: { sandboxUid: 0 } },
      'limits.sandboxUid: expected an integer from 1 to 2147483647, got 0',
    ],
    [
      'runs in the root group',
      { limits: { sandboxGid: 0 } },
      'limits.sandboxGid: expected an integer from 1 to 2147483647, got 0',
    ],
    ['a run section that is not an object', { run: [] }, 'run: expected an object, got []'],
    [
      'a default deadline of 0',
      { run: { defaultMaxSeconds: 0 } },
      'run.defaultMaxSeconds: expected a number from 0.1 to 3600, got 0',
    ],
    [
      'a default deadline above the ceiling',
      { run: { maxSecondsCeiling: 5 } },
      'run.defaultMaxSeconds: expected at most run.maxSecondsCeiling (5), got 10',
    ],
    [
      'a default output limit above its ceiling',
      { run: { outputLimitBytes: 2000, outputLimitCeilingBytes: 1000 } },
      'run.outputLimitBytes: expected at most run.outputLimitCeilingBytes (1000), got 2000',
    ],
    [
      'a negative flood allowance',
      { run: { floodAllowanceBytes: -1 } },
      'run.floodAllowanceBytes: expected an integer from 0 to 1073741824, got -1',
    ],
    [
      'archives of no entries',
      { run: { archiveMaxEntries: 0 } },
      'run.archiveMaxEntries: expected an integer from 1 to 1000000, got 0',
    ],
    [
      'archives of no bytes',
      { run: { archiveMaxBytes: 0 } },
      'run.archiveMaxBytes: expected an integer from 1 to 1073741824, got 0',
    ],
    ['returnFiles as text', { run: { returnFiles: 'yes' } }, 'run.returnFiles: expected true or false, got "yes"'],
    ['returnFiles as a number', { run: { returnFiles: 1 } }, 'run.returnFiles: expected true or false, got 1'],
    ['returnFiles of null', { run: { returnFiles: null } }, 'run.returnFiles: expected true or false, got null'],
    [
      'a negative file count',
      { run: { filesMaxCount: -1 } },
      'run.filesMaxCount: expected an integer from 0 to 100000, got -1',
    ],
    [
      'a per-file cap as text',
      { run: { filesMaxFileBytes: '64k' } },
      'run.filesMaxFileBytes: expected an integer from 0 to 1073741824, got "64k"',
    ],
    [
      'a fractional total cap',
      { run: { filesMaxTotalBytes: 0.5 } },
      'run.filesMaxTotalBytes: expected an integer from 0 to 1073741824, got 0.5',
    ],
    [
      'a negative pool output limit',
      { pools: [{ image: 'a', size: 1, outputLimitBytes: -1 }] },
      'pools[0].outputLimitBytes: expected an integer from 0 to 16777216, got -1',
    ],
    [
      'a fractional pool output limit',
      { pools: [{ image: 'a', size: 1, outputLimitBytes: 10.5 }] },
      'pools[0].outputLimitBytes: expected an integer from 0 to 16777216, got 10.5',
    ],
    [
      'a pool output limit as text',
      { pools: [{ image: 'a', size: 1, outputLimitBytes: '1024' }] },
      'pools[0].outputLimitBytes: expected an integer from 0 to 16777216, got "1024"',
    ],
    [
      'peers given as one string',
      { peers: 'http://peer:4000' },
      'peers: expected an array of URLs, got "http://peer:4000"',
    ],
    ['a peer that is not text', { peers: [5] }, 'peers[0]: expected a URL, got 5'],
    [
      'a peer that is not http',
      { peers: ['ftp://peer'] },
      'peers[0]: expected an http:// or https:// URL, got "ftp://peer"',
    ],
    [
      'a peer that is not a URL',
      { peers: ['http://ok:4000', 'peer:4000 '] },
      'peers[1]: expected an http:// or https:// URL, got "peer:4000 "',
    ],
    [
      'a replica id with a space',
      { replicaId: 'replica a' },
      "replicaId: expected letters, digits, '.', '_' or '-' (at most 63), got \"replica a\"",
    ],
    [
      'a replica id starting with a dash',
      { replicaId: '-replica' },
      "replicaId: expected letters, digits, '.', '_' or '-' (at most 63), got \"-replica\"",
    ],
    [
      'a replica id of 64 characters',
      { replicaId: 'r'.repeat(64) },
      `replicaId: expected letters, digits, '.', '_' or '-' (at most 63), got "${'r'.repeat(64)}"`,
    ],
  ])('rejects %s', (_what, file, message) => {
    expect(messageFor(file, {})).toBe(message);
  });

  it('takes a replica id of 63 characters', () => {
    expect(parseConfig({ replicaId: 'r'.repeat(63) }).replicaId).toBe('r'.repeat(63));
  });
});

describe('parseConfig unknown fields', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'at the top level',
      { pool: [] },
      'pool: expected one of replicaId, host, port, bodyLimitBytes, maxConcurrentRuns, maxQueuedRuns, ' +
        'creationConcurrency, dockerCallTimeoutMs, readyTimeoutMs, peers, run, limits, pools, got an unknown field',
    ],
    [
      'in a pool',
      { pools: [{ image: 'a', size: 1, sise: 2 }] },
      'pools[0].sise: expected one of image, size, limits, outputLimitBytes, maxConcurrentRuns, got an unknown field',
    ],
    [
      'in the global limits',
      { limits: { memory: 512 } },
      'limits.memory: expected one of memoryMb, cpus, pidsLimit, tmpSizeMb, sandboxSizeMb, homeSizeMb, fileSizeMb, ' +
        'openFiles, sandboxUid, sandboxGid, got an unknown field',
    ],
    [
      "in a pool's limits",
      { pools: [{ image: 'a', size: 1, limits: { swapMb: 1 } }] },
      'pools[0].limits.swapMb: expected one of memoryMb, cpus, pidsLimit, tmpSizeMb, sandboxSizeMb, homeSizeMb, ' +
        'fileSizeMb, openFiles, sandboxUid, sandboxGid, got an unknown field',
    ],
    [
      'in the run section',
      { run: { timeout: 5 } },
      'run.timeout: expected one of defaultMaxSeconds, maxSecondsCeiling, outputLimitBytes, outputLimitCeilingBytes, ' +
        'floodAllowanceBytes, archiveMaxEntries, archiveMaxBytes, returnFiles, filesMaxCount, filesMaxFileBytes, ' +
        'filesMaxTotalBytes, got an unknown field',
    ],
  ])('rejects an unknown field %s', (_where, file, message) => {
    expect(messageFor(file)).toBe(message);
  });
});

describe('parseConfig repeated images', () => {
  it('rejects an image served by two pools', () => {
    const file = {
      pools: [
        { image: 'a', size: 1 },
        { image: 'b', size: 1 },
        { image: 'a', size: 2 },
      ],
    };

    expect(messageFor(file)).toBe('pools: expected each image once, got "a" twice');
  });
});

describe('loadConfig', () => {
  let dir: string;
  let originalCwd: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'warmpool-config-'));
    originalCwd = process.cwd();
  });

  afterEach(() => {
    process.chdir(originalCwd);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  it('reads the file WARMPOOL_CONFIG names, with the environment applied', () => {
    const path = writeConfig('named.json', JSON.stringify({ port: 4100, pools: [{ image: 'alpine:3', size: 3 }] }));

    const config = loadConfig({ WARMPOOL_CONFIG: path, PORT: '4200', WARMPOOL_REPLICA_ID: 'replica-a' });

    expect(config).toMatchObject({ port: 4200, replicaId: 'replica-a', pools: [{ image: 'alpine:3', size: 3 }] });
  });

  it('throws a ConfigError naming the path when WARMPOOL_CONFIG names a missing file', () => {
    const path = join(dir, 'missing.json');

    expect(() => loadConfig({ WARMPOOL_CONFIG: path })).toThrow(ConfigError);
    expect(() => loadConfig({ WARMPOOL_CONFIG: path })).toThrow(`cannot read the configuration file ${path}`);
  });

  it('throws a ConfigError naming the path for a file that is not JSON', () => {
    const path = writeConfig('broken.json', '{ "pools": [ ');

    expect(() => loadConfig({ WARMPOOL_CONFIG: path })).toThrow(`the configuration file ${path} is not valid JSON: `);
  });

  it('throws a ConfigError for a file whose top level is not an object', () => {
    const path = writeConfig('array.json', '[]');

    expect(() => loadConfig({ WARMPOOL_CONFIG: path })).toThrow('(top level): expected an object, got []');
  });

  it('passes on the field errors of a file', () => {
    const path = writeConfig('bad-size.json', JSON.stringify({ pools: [{ image: 'a', size: -1 }] }));

    expect(() => loadConfig({ WARMPOOL_CONFIG: path })).toThrow(
      'pools[0].size: expected an integer from 0 to 100, got -1',
    );
  });

  it('serves the demo pools when WARMPOOL_CONFIG is unset and there is no ./warmpool.json', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    process.chdir(empty);

    const config = loadConfig({ WARMPOOL_REPLICA_ID: 'replica-a' });

    expect(config.pools).toEqual([
      { image: 'warmpool-test/busybox', size: 2, limits: DEFAULT_LIMITS, outputLimitBytes: 1024 * 1024 },
      { image: 'warmpool-test/python', size: 1, limits: DEFAULT_LIMITS, outputLimitBytes: 1024 * 1024 },
    ]);
  });

  it('reads ./warmpool.json when WARMPOOL_CONFIG is unset', () => {
    const withFile = mkdtempSync(join(dir, 'with-file-'));
    writeFileSync(join(withFile, 'warmpool.json'), JSON.stringify({ pools: [{ image: 'alpine:3', size: 1 }] }));
    process.chdir(withFile);

    const config = loadConfig({ WARMPOOL_REPLICA_ID: 'replica-a' });

    expect(config.pools.map((pool) => pool.image)).toEqual(['alpine:3']);
  });
});
