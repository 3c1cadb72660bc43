/** What every pooled container is limited to. Each pool may override any of these. */
export interface ContainerLimits {
  /** Memory limit in MiB; swap is set equal, so a run gets no extra swap. */
  memoryMb: number;
  /** CPU share, in CPUs (0.5 is half of one core). */
  cpus: number;
  /** Most processes and threads alive at once in the container: the fork-bomb guard. */
  pidsLimit: number;
  /** Size of the /tmp tmpfs in MiB. */
  tmpSizeMb: number;
  /** Size of the /sandbox tmpfs in MiB. */
  sandboxSizeMb: number;
  /** Size of the /home/sandbox tmpfs in MiB. */
  homeSizeMb: number;
  /** Largest file a run may write, in MiB (ulimit fsize). */
  fileSizeMb: number;
  /** Open files per process (ulimit nofile). */
  openFiles: number;
  /** The uid runs execute as. Never 0. */
  sandboxUid: number;
  /** The gid runs execute as. Never 0. */
  sandboxGid: number;
}

export interface PoolConfig {
  /** The image this pool serves; a run names it to be served from this pool. */
  image: string;
  /** How many paused containers to keep ready. */
  size: number;
  /** This pool's limits: the global limits with this pool's overrides applied. */
  limits: ContainerLimits;
  /** Bytes kept per output stream when a run names no limit: run.outputLimitBytes unless overridden. */
  outputLimitBytes: number;
  /** Runs of this image under way at once; unset means only the replica's limit applies. */
  maxConcurrentRuns?: number;
}

export interface RunConfig {
  /** Deadline of a run that names none, in seconds. */
  defaultMaxSeconds: number;
  /** Longest deadline a run may ask for, in seconds. */
  maxSecondsCeiling: number;
  /** Default cap on each of stdout and stderr, in bytes. */
  outputLimitBytes: number;
  /** Largest cap a run may ask for, per stream, in bytes. */
  outputLimitCeilingBytes: number;
  /** Bytes past a stream's cap tolerated before the program is stopped as a flood. */
  floodAllowanceBytes: number;
  /** Most entries a run's archive may hold. */
  archiveMaxEntries: number;
  /** Most bytes of file content a run's archive may unpack to. */
  archiveMaxBytes: number;
  /** Whether a run that names no preference gets back the files it created or changed. */
  returnFiles: boolean;
  /** Most changed files returned per run. */
  filesMaxCount: number;
  /** Most bytes of one returned file's content. */
  filesMaxFileBytes: number;
  /** Most bytes of returned file content per run, all files together. */
  filesMaxTotalBytes: number;
}

export interface WarmpoolConfig {
  /** Labels every container this replica creates; a replica sweeps only its own. */
  replicaId: string;
  /** Address the HTTP server listens on. */
  host: string;
  /** Port the HTTP server listens on. */
  port: number;
  /** Largest request body taken, in bytes. */
  bodyLimitBytes: number;
  /** Runs under way at once on this replica. */
  maxConcurrentRuns: number;
  /** Runs that may wait for a slot; one more is answered 503 at once. */
  maxQueuedRuns: number;
  /** Containers created at once, across all pools. */
  creationConcurrency: number;
  /** Time-out of each Docker call, in milliseconds. */
  dockerCallTimeoutMs: number;
  /** How long a new container may take to reach its waiting entrypoint, in milliseconds. */
  readyTimeoutMs: number;
  /** Base URLs of other replicas told about each checkout, so they warm up too. */
  peers: string[];
  run: RunConfig;
  pools: PoolConfig[];
}
