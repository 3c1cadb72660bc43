import Docker from 'dockerode';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WarmpoolConfig } from './config/config';
import { DockerEngine } from './engine/docker-engine';
import { EngineWatcher } from './engine/engine-watcher';
import { createApp } from './http/app';
import { InFlight } from './http/in-flight';
import type { Logger } from './log/logger';
import { DockerContainerFactory } from './pool/container-factory';
import { LABELS } from './pool/labels';
import { PeerNotifier } from './pool/peer-notifier';
import { Pools } from './pool/pools';
import { RunQueue } from './runner/run-queue';
import { Runner } from './runner/runner';

/** Slow clients get this long to send their headers, in ms. */
const HEADERS_TIMEOUT_MS = 10_000;
/** ... and this long to send the whole request, body included, in ms. */
const REQUEST_TIMEOUT_MS = 60_000;
/** A kept-alive connection is closed after this many requests, so no client holds one forever. */
const MAX_REQUESTS_PER_SOCKET = 1000;

/** One warmpool replica: its pools, its runner and its HTTP server, started and stopped as one. */
export class Daemon {
  readonly pools: Pools;
  readonly runner: Runner;
  readonly watcher: EngineWatcher;
  private readonly engine: DockerEngine;
  private readonly inFlight = new InFlight();
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;
  private poolsStarted = false;

  constructor(
    readonly config: WarmpoolConfig,
    private readonly log: Logger,
    docker: Docker = new Docker(),
  ) {
    this.engine = new DockerEngine(docker, log, config.dockerCallTimeoutMs);
    const factory = new DockerContainerFactory(this.engine, config.replicaId, config.readyTimeoutMs, log);
    const peers = new PeerNotifier({ replicaId: config.replicaId, peers: config.peers, log });

    this.pools = new Pools({
      replicaId: config.replicaId,
      pools: config.pools,
      creationConcurrency: config.creationConcurrency,
      factory,
      engine: this.engine,
      log,
      onCheckout: (image) => peers.consumed(image),
    });
    this.watcher = new EngineWatcher({ engine: this.engine, labels: { [LABELS.replica]: config.replicaId }, log });
    this.runner = new Runner({
      pools: this.pools,
      engine: this.engine,
      log,
      queue: new RunQueue({
        concurrency: config.maxConcurrentRuns,
        maxWaiting: config.maxQueuedRuns,
        perImage: Object.fromEntries(
          config.pools
            .filter((pool) => pool.maxConcurrentRuns !== undefined)
            .map((pool) => [pool.image, pool.maxConcurrentRuns as number]),
        ),
      }),
      engineAvailable: () => this.watcher.available,
      floodAllowanceBytes: config.run.floodAllowanceBytes,
      filesOut: {
        maxFiles: config.run.filesMaxCount,
        maxFileBytes: config.run.filesMaxFileBytes,
        maxTotalBytes: config.run.filesMaxTotalBytes,
      },
    });
  }

  /**
   * Starts following the engine, sweeps this replica's leftovers, starts filling the pools and
   * listens. An engine that does not answer yet is waited for: runs get 503 until it does.
   */
  async start(): Promise<AddressInfo> {
    this.watcher.on('down', () => this.pools.engineLost());
    this.watcher.on('up', () => void this.engineUp());
    this.watcher.on('gone', ({ id }) => this.pools.containerGone(id));
    this.engine.onUnreachable((reason) => this.watcher.suspect(reason));

    // Listen first: a port already taken must stop start-up before any container exists.
    const address = await this.listen();
    const up = await this.watcher.start();
    if (!up) {
      this.log.error('no Docker Engine answers yet; runs get 503 until one does', {
        engine: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
      });
    }

    this.log.info('warmpool is listening', {
      host: address.address,
      port: address.port,
      pools: this.config.pools.map((pool) => `${pool.image} x${pool.size}`),
    });
    return address;
  }

  /**
   * Stops taking runs, lets the runs under way finish within their deadlines, closes the server
   * and removes every container of this replica. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Sweeps and fills when the engine answers: at start-up, and again after each outage. */
  private async engineUp(): Promise<void> {
    try {
      if (this.poolsStarted) {
        await this.pools.engineBack();
      } else {
        this.poolsStarted = true;
        await this.pools.start();
      }
    } catch (error) {
      this.log.warn('could not sweep and refill after the engine came back', { error: (error as Error).message });
    }
  }

  private async listen(): Promise<AddressInfo> {
    const app = createApp({
      config: this.config,
      pools: this.pools,
      runner: this.runner,
      inFlight: this.inFlight,
      log: this.log,
      engineUp: () => this.watcher.available,
    });
    const server = createServer(
      {
        headersTimeout: HEADERS_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        // Slow clients are looked for every second, so the time-outs above hold to the second.
        connectionsCheckingInterval: 1000,
      },
      app,
    );
    server.keepAliveTimeout = 5_000;
    server.maxRequestsPerSocket = MAX_REQUESTS_PER_SOCKET;
    this.server = server;

    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
      server.listen(this.config.port, this.config.host);
    });
    return server.address() as AddressInfo;
  }

  private async shutdown(): Promise<void> {
    this.log.info('shutting down', { runsInFlight: this.inFlight.size });
    const closed = this.closeServer();

    await this.inFlight.close();
    this.watcher.stop();
    try {
      await this.pools.close();
      this.log.info('shut down; every container of this replica is removed');
    } catch (error) {
      // Nothing more can be done now; the next start of this replica sweeps what is left.
      this.log.warn("shut down, but could not remove this replica's containers; its next start will", {
        error: (error as Error).message,
      });
    }
    await closed;
  }

  private async closeServer(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }
}
