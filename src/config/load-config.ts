import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError } from '../errors';
import type { ContainerLimits, PoolConfig, RunConfig, WarmpoolConfig } from './config';
import * as defaults from './defaults';

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

/**
 * Reads the configuration once, at start-up: the JSON file named by WARMPOOL_CONFIG (or
 * ./warmpool.json when it exists, else the built-in demo pools), with PORT, HOST and
 * WARMPOOL_REPLICA_ID from the environment. Any invalid field stops start-up with a message
 * naming the field, what was expected and what was found.
 */
export function loadConfig(env: Env = process.env): WarmpoolConfig {
  const file = readConfigFile(env);
  return parseConfig(file, env);
}

function readConfigFile(env: Env): Json {
  const path = env.WARMPOOL_CONFIG ?? defaults.DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    if (missing && env.WARMPOOL_CONFIG === undefined) return { pools: defaults.DEFAULT_POOLS };
    throw new ConfigError(`cannot read the configuration file ${path}: ${(error as Error).message}`);
  }

  try {
    const parsed: unknown = JSON.parse(text);
    return expectObject(parsed, '(top level)');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`the configuration file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Checks a parsed configuration and fills in every default. Exported for tests. */
export function parseConfig(file: Json, env: Env = {}): WarmpoolConfig {
  const known = [
    'replicaId',
    'host',
    'port',
    'bodyLimitBytes',
    'maxConcurrentRuns',
    'maxQueuedRuns',
    'creationConcurrency',
    'dockerCallTimeoutMs',
    'readyTimeoutMs',
    'peers',
    'run',
    'limits',
    'pools',
  ];
  rejectUnknownFields(file, known, '');

  const limits = parseLimits(file.limits, 'limits', defaults.DEFAULT_LIMITS);
  const config: WarmpoolConfig = {
    replicaId: env.WARMPOOL_REPLICA_ID ?? optionalString(file.replicaId, 'replicaId') ?? hostname(),
    host: optionalString(env.HOST, 'HOST') ?? optionalString(file.host, 'host') ?? defaults.DEFAULT_HOST,
    port:
      env.PORT !== undefined
        ? integer(/^\d+$/.test(env.PORT) ? Number(env.PORT) : NaN, 'PORT', 0, 65535, env.PORT)
        : (optionalInteger(file.port, 'port', 0, 65535) ?? defaults.DEFAULT_PORT),
    bodyLimitBytes:
      optionalInteger(file.bodyLimitBytes, 'bodyLimitBytes', 1024, 1024 ** 3) ?? defaults.DEFAULT_BODY_LIMIT_BYTES,
    maxConcurrentRuns:
      optionalInteger(file.maxConcurrentRuns, 'maxConcurrentRuns', 1, 1024) ?? defaults.DEFAULT_MAX_CONCURRENT_RUNS,
    maxQueuedRuns: optionalInteger(file.maxQueuedRuns, 'maxQueuedRuns', 0, 100_000) ?? defaults.DEFAULT_MAX_QUEUED_RUNS,
    creationConcurrency:
      optionalInteger(file.creationConcurrency, 'creationConcurrency', 1, 64) ?? defaults.DEFAULT_CREATION_CONCURRENCY,
    dockerCallTimeoutMs:
      optionalInteger(file.dockerCallTimeoutMs, 'dockerCallTimeoutMs', 100, 600_000) ??
      defaults.DEFAULT_DOCKER_CALL_TIMEOUT_MS,
    readyTimeoutMs:
      optionalInteger(file.readyTimeoutMs, 'readyTimeoutMs', 100, 600_000) ?? defaults.DEFAULT_READY_TIMEOUT_MS,
    peers: parsePeers(file.peers),
    run: parseRun(file.run),
    pools: [],
  };
  config.pools = parsePools(file.pools, limits, config.run);

  for (const pool of config.pools) {
    const user = `${pool.limits.sandboxUid}:${pool.limits.sandboxGid}`;
    if (String(pool.limits.sandboxUid) === defaults.KEEPER_USER.split(':')[0]) {
      throw new ConfigError(
        `limits.sandboxUid of ${pool.image}: expected any uid but the entrypoint's ` +
          `${defaults.KEEPER_USER.split(':')[0]}, got ${user}; a run ends by killing every process of its uid`,
      );
    }
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(config.replicaId)) {
    throw new ConfigError(
      `replicaId: expected letters, digits, '.', '_' or '-' (at most 63), got "${config.replicaId}"`,
    );
  }
  return config;
}

function parsePools(value: unknown, limits: ContainerLimits, run: RunConfig): PoolConfig[] {
  if (value === undefined) {
    return defaults.DEFAULT_POOLS.map((pool) => ({ ...pool, limits, outputLimitBytes: run.outputLimitBytes }));
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new ConfigError(`pools: expected a non-empty array of {"image", "size"}, got ${describe(value)}`);
  }

  const pools = value.map((entry, index): PoolConfig => {
    const field = `pools[${index}]`;
    const pool = expectObject(entry, field);
    rejectUnknownFields(pool, ['image', 'size', 'limits', 'outputLimitBytes', 'maxConcurrentRuns'], `${field}.`);
    const image = optionalString(pool.image, `${field}.image`);
    if (!image) throw new ConfigError(`${field}.image: expected an image name, got ${describe(pool.image)}`);
    return {
      image,
      size: integer(pool.size, `${field}.size`, 0, 100),
      limits: parseLimits(pool.limits, `${field}.limits`, limits),
      outputLimitBytes:
        optionalInteger(pool.outputLimitBytes, `${field}.outputLimitBytes`, 0, run.outputLimitCeilingBytes) ??
        run.outputLimitBytes,
      ...(pool.maxConcurrentRuns !== undefined && {
        maxConcurrentRuns: integer(pool.maxConcurrentRuns, `${field}.maxConcurrentRuns`, 1, 1024),
      }),
    };
  });

  const images = pools.map((pool) => pool.image);
  const repeated = images.find((image, index) => images.indexOf(image) !== index);
  if (repeated) throw new ConfigError(`pools: expected each image once, got "${repeated}" twice`);
  return pools;
}

function parseLimits(value: unknown, field: string, base: ContainerLimits): ContainerLimits {
  if (value === undefined) return base;
  const limits = expectObject(value, field);
  const ranges: Record<keyof ContainerLimits, [number, number]> = {
    memoryMb: [16, 65536],
    cpus: [0.01, 64],
    pidsLimit: [8, 32768],
    tmpSizeMb: [1, 65536],
    sandboxSizeMb: [1, 65536],
    homeSizeMb: [1, 65536],
    fileSizeMb: [1, 65536],
    openFiles: [16, 65536],
    sandboxUid: [1, 2 ** 31 - 1],
    sandboxGid: [1, 2 ** 31 - 1],
  };
  rejectUnknownFields(limits, Object.keys(ranges), `${field}.`);

  const merged = { ...base };
  for (const key of Object.keys(ranges) as (keyof ContainerLimits)[]) {
    if (limits[key] === undefined) continue;
    const [min, max] = ranges[key];
    merged[key] =
      key === 'cpus'
        ? number(limits[key], `${field}.${key}`, min, max)
        : integer(limits[key], `${field}.${key}`, min, max);
  }
  return merged;
}

function parseRun(value: unknown): RunConfig {
  const base = defaults.DEFAULT_RUN;
  if (value === undefined) return base;
  const run = expectObject(value, 'run');
  rejectUnknownFields(run, Object.keys(base), 'run.');

  const parsed: RunConfig = {
    defaultMaxSeconds:
      optionalNumber(run.defaultMaxSeconds, 'run.defaultMaxSeconds', 0.1, 3600) ?? base.defaultMaxSeconds,
    maxSecondsCeiling:
      optionalNumber(run.maxSecondsCeiling, 'run.maxSecondsCeiling', 0.1, 3600) ?? base.maxSecondsCeiling,
    outputLimitBytes:
      optionalInteger(run.outputLimitBytes, 'run.outputLimitBytes', 0, 1024 ** 3) ?? base.outputLimitBytes,
    outputLimitCeilingBytes:
      optionalInteger(run.outputLimitCeilingBytes, 'run.outputLimitCeilingBytes', 0, 1024 ** 3) ??
      base.outputLimitCeilingBytes,
    floodAllowanceBytes:
      optionalInteger(run.floodAllowanceBytes, 'run.floodAllowanceBytes', 0, 1024 ** 3) ?? base.floodAllowanceBytes,
    archiveMaxEntries:
      optionalInteger(run.archiveMaxEntries, 'run.archiveMaxEntries', 1, 1_000_000) ?? base.archiveMaxEntries,
    archiveMaxBytes: optionalInteger(run.archiveMaxBytes, 'run.archiveMaxBytes', 1, 1024 ** 3) ?? base.archiveMaxBytes,
    returnFiles: optionalBoolean(run.returnFiles, 'run.returnFiles') ?? base.returnFiles,
    filesMaxCount: optionalInteger(run.filesMaxCount, 'run.filesMaxCount', 0, 100_000) ?? base.filesMaxCount,
    filesMaxFileBytes:
      optionalInteger(run.filesMaxFileBytes, 'run.filesMaxFileBytes', 0, 1024 ** 3) ?? base.filesMaxFileBytes,
    filesMaxTotalBytes:
      optionalInteger(run.filesMaxTotalBytes, 'run.filesMaxTotalBytes', 0, 1024 ** 3) ?? base.filesMaxTotalBytes,
  };

  if (parsed.defaultMaxSeconds > parsed.maxSecondsCeiling) {
    throw new ConfigError(
      `run.defaultMaxSeconds: expected at most run.maxSecondsCeiling (${parsed.maxSecondsCeiling}), ` +
        `got ${parsed.defaultMaxSeconds}`,
    );
  }
  if (parsed.outputLimitBytes > parsed.outputLimitCeilingBytes) {
    throw new ConfigError(
      `run.outputLimitBytes: expected at most run.outputLimitCeilingBytes ` +
        `(${parsed.outputLimitCeilingBytes}), got ${parsed.outputLimitBytes}`,
    );
  }
  return parsed;
}

function parsePeers(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError(`peers: expected an array of URLs, got ${describe(value)}`);
  return value.map((peer, index) => {
    const field = `peers[${index}]`;
    if (typeof peer !== 'string') throw new ConfigError(`${field}: expected a URL, got ${describe(peer)}`);
    try {
      const url = new URL(peer);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw new ConfigError(`${field}: expected an http:// or https:// URL, got "${peer}"`);
    }
    return peer.replace(/\/+$/, '');
  });
}

function rejectUnknownFields(object: Json, known: string[], prefix: string): void {
  const unknown = Object.keys(object).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw new ConfigError(`${prefix}${unknown}: expected one of ${known.join(', ')}, got an unknown field`);
  }
}

function expectObject(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`${field}: expected an object, got ${describe(value)}`);
  }
  return value as Json;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`${field}: expected a non-empty string, got ${describe(value)}`);
  }
  return value;
}

function number(value: unknown, field: string, min: number, max: number, shown: unknown = value): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${field}: expected a number from ${min} to ${max}, got ${describe(shown)}`);
  }
  return value;
}

function integer(value: unknown, field: string, min: number, max: number, shown: unknown = value): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${field}: expected an integer from ${min} to ${max}, got ${describe(shown)}`);
  }
  return value;
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new ConfigError(`${field}: expected true or false, got ${describe(value)}`);
  return value;
}

function optionalNumber(value: unknown, field: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : number(value, field, min, max);
}

function optionalInteger(value: unknown, field: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : integer(value, field, min, max);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `"${value}"`;
  return JSON.stringify(value) ?? String(value);
}
