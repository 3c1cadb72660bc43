import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './project-root';

/** The project's root: the nearest folder above with warmpool's package.json, compiled or not. */
const ROOT = projectRoot(__dirname);

/** Compiles the daemon, so the tests exercise exactly what `npm start` runs. */
/** Compiles the daemon unless the build is newer than every source, as scripts/setup.sh does. */
export function buildDaemon(): void {
  const built = join(ROOT, 'dist', 'main.js');
  if (existsSync(built) && newestChange(join(ROOT, 'src')) < statSync(built).mtimeMs) return;
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}

function newestChange(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestChange(path) : statSync(path).mtimeMs;
    }),
  );
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

export interface DaemonProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `node dist/main.js` as its own process, as an operator would, with a config file. */
export async function spawnDaemon(
  replicaId: string,
  config: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<DaemonProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'warmpool-test-'));
  const configPath = join(dir, 'warmpool.json');
  writeFileSync(configPath, JSON.stringify(config));
  const port = await freePort();

  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      WARMPOOL_CONFIG: configPath,
      WARMPOOL_REPLICA_ID: replicaId,
      PORT: String(port),
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}
