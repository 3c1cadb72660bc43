import type { ContainerLimits, RunConfig } from './config';

/** Where the configuration is read from when WARMPOOL_CONFIG is not set. */
export const DEFAULT_CONFIG_PATH = 'warmpool.json';

/** Pools served when no configuration file exists: the two demo images. */
export const DEFAULT_POOLS = [
  { image: 'warmpool-test/busybox', size: 2 },
  { image: 'warmpool-test/python', size: 1 },
] as const;

/** Loopback only by default: a daemon that runs code for anyone must be exposed on purpose. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 4000;

/** 16 MiB: room for a sizeable project as JSON or tgz, small enough to refuse abuse early. */
export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/** A run mostly waits on the engine, so a few per core keep a host busy without overloading it. */
export const DEFAULT_MAX_CONCURRENT_RUNS = 8;
/** Enough to absorb a burst; past it, callers are told to retry rather than left waiting. */
export const DEFAULT_MAX_QUEUED_RUNS = 32;

/** Two creations at once keep a 2-core host responsive while pools refill. */
export const DEFAULT_CREATION_CONCURRENCY = 2;

export const DEFAULT_DOCKER_CALL_TIMEOUT_MS = 30_000;
export const DEFAULT_READY_TIMEOUT_MS = 15_000;

export const DEFAULT_LIMITS: ContainerLimits = {
  memoryMb: 256,
  cpus: 1,
  pidsLimit: 128,
  tmpSizeMb: 64,
  sandboxSizeMb: 64,
  homeSizeMb: 16,
  fileSizeMb: 32,
  openFiles: 256,
  sandboxUid: 40000,
  sandboxGid: 40000,
};

export const DEFAULT_RUN: RunConfig = {
  defaultMaxSeconds: 10,
  maxSecondsCeiling: 60,
  outputLimitBytes: 1024 * 1024,
  outputLimitCeilingBytes: 16 * 1024 * 1024,
  floodAllowanceBytes: 1024 * 1024,
  archiveMaxEntries: 1000,
  archiveMaxBytes: 32 * 1024 * 1024,
  returnFiles: true,
  filesMaxCount: 100,
  filesMaxFileBytes: 64 * 1024,
  filesMaxTotalBytes: 1024 * 1024,
};

/**
 * The uid:gid of each container's waiting entrypoint. It differs from the sandbox's, so a run
 * that kills every process it may signal (as every run does when main.sh ends) cannot end it.
 */
export const KEEPER_USER = '65534:65534';
