import Docker from 'dockerode';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WarmpoolConfig } from './config/config';
import { DockerEngine } from './engine/docker-engine';
import { EngineUnavailableError } from './errors';
import { createApp } from './http/app';
import { InFlight } from './http/in-flight';
import type { Logger } from './log/logger';
import { DockerContainerFactory } from './pool/container-factory';
import { PeerNotifier } from './pool/peer-notifier';
import { Pools } from './pool/pools';
import { Runner } from './runner/runner';

/** Slow clients get this long to send their headers, in ms. */
const HEADERS_TIMEOUT_MS = 10_000;
/** ... and this long to send the whole request, body included, in ms. */
const REQUEST_TIMEOUT_MS = 60_000;

/** One warmpool replica: its pools, its runner and its HTTP server, started and stopped as one. */
export class Daemon {
  readonly pools: Pools;
  readonly runner: Runner;
  private readonly engine: DockerEngine;
  private readonly inFlight = new InFlight();
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;

  constructor(readonly config: WarmpoolConfig, private readonly log: Logger, docker: Docker = new Docker()) {
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
    this.runner = new Runner({
      pools: this.pools, engine: this.engine, log, floodAllowanceBytes: config.run.floodAllowanceBytes,
    });
  }

  /** Checks the engine, sweeps this replica's leftovers, starts filling the pools and listens. */
  async start(): Promise<AddressInfo> {
    try {
      await this.engine.ping();
    } catch (error) {
      throw new EngineUnavailableError(
        `no Docker Engine answers at ${process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'}: `
        + `${(error as Error).message}. Start one (npm run engine does, on Debian as root) and try again`,
        { cause: error },
      );
    }
    await this.pools.start();

    const app = createApp({
      config: this.config, pools: this.pools, runner: this.runner, inFlight: this.inFlight, log: this.log,
    });
    const server = app.listen(this.config.port, this.config.host);
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = 5_000;
    this.server = server;

    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const address = server.address() as AddressInfo;
    this.log.info('warmpool is listening', {
      host: address.address, port: address.port, pools: this.config.pools.map((pool) => `${pool.image} x${pool.size}`),
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

  private async shutdown(): Promise<void> {
    this.log.info('shutting down', { runsInFlight: this.inFlight.size });
    const closed = this.closeServer();

    await this.inFlight.close();
    await this.pools.close();
    await closed;
    this.log.info('shut down; every container of this replica is removed');
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
