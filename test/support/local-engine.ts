import { execFileSync, spawnSync } from 'node:child_process';
import { projectRoot } from './project-root';
import { eventually } from './daemon-harness';

/** The project's root: the nearest folder above with warmpool's package.json, compiled or not. */
const ROOT = projectRoot(__dirname);

function dockerdPid(): number | undefined {
  const found = spawnSync('pidof', ['dockerd'], { encoding: 'utf8' });
  const pid = Number(found.stdout.trim().split(/\s+/)[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function engineAnswers(): boolean {
  return spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: 5000 }).status === 0;
}

/**
 * Stops the local dockerd, as an operator's restart would, and waits until it has gone. Only the
 * engine this project started on this machine (scripts/engine.sh) is ever stopped.
 */
export async function stopLocalEngine(): Promise<void> {
  const pid = dockerdPid();
  if (!pid) throw new Error('these tests restart the local dockerd, and none runs here; start it with npm run engine');
  process.kill(pid, 'SIGTERM');
  await eventually(() => dockerdPid() === undefined && !engineAnswers(), 60_000, 'dockerd stopped');
}

/** Starts the local dockerd again the way the project does, and waits until it answers. */
export async function startLocalEngine(): Promise<void> {
  execFileSync('bash', ['scripts/engine.sh'], { cwd: ROOT, stdio: 'ignore' });
  await eventually(() => engineAnswers(), 60_000, 'dockerd answering');
}
