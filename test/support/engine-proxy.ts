import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A unix socket that forwards to the local Docker Engine and can be cut, so a test can take the
 * engine away from one replica without stopping the engine every other test uses.
 */
export class EngineProxy {
  readonly socketPath: string;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly enginePath = '/var/run/docker.sock') {
    this.socketPath = join(mkdtempSync(join(tmpdir(), 'warmpool-proxy-')), 'docker.sock');
  }

  async open(): Promise<void> {
    if (this.server) return;
    // Half-open both ways: a run half-closes its stdin and still reads its output.
    const server = createServer({ allowHalfOpen: true }, (client) => {
      const engine = createConnection({ path: this.enginePath, allowHalfOpen: true });
      for (const socket of [client, engine]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          engine.destroy();
        });
      }
      client.pipe(engine);
      engine.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, resolve);
    });
    this.server = server;
  }

  /** Cuts every connection and stops listening: the engine looks gone. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  async dispose(): Promise<void> {
    await this.cut();
    rmSync(this.socketPath, { force: true });
  }
}
