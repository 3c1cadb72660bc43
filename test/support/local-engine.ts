import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { eventually } from './daemon-harness';
import { projectRoot } from './project-root';

/** The project's root: the nearest folder above with warmpool's package.json, compiled or not. */
const ROOT = projectRoot(__dirname);
/** Written by scripts/engine.sh when it starts dockerd; see there. */
const PID_FILE = process.env.WARMPOOL_ENGINE_PID_FILE ?? '/run/warmpool-dockerd.pid';
const exec = promisify(execFile);

/** The dockerd that scripts/engine.sh started and that still runs, if any. */
function ourDockerd(): number | undefined {
  try {
    const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
    const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return name === 'dockerd' ? pid : undefined;
  } catch {
    return undefined;
  }
}

// Asynchronous on purpose: a replica under test may live in this very process and must keep
// serving while the engine goes and comes back.
async function engineAnswers(): Promise<boolean> {
  try {
    await exec('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the local dockerd, as an operator's restart would, and waits until it has gone. Only an
 * engine that this project started (scripts/engine.sh, which npm test runs first) is ever
 * stopped; any other is left alone and the test says why it cannot go on.
 */
export async function stopLocalEngine(): Promise<void> {
  const pid = ourDockerd();
  if (!pid) {
    throw new Error(
      `this test restarts the Docker Engine, and only one started by scripts/engine.sh (named in ${PID_FILE}); ` +
        'the engine here was started some other way, so it is left alone',
    );
  }
  process.kill(pid, 'SIGTERM');
  await eventually(async () => ourDockerd() === undefined && !(await engineAnswers()), 60_000, 'dockerd stopped');
}

/** Starts the local dockerd again the way the project does, and waits until it answers. */
export async function startLocalEngine(): Promise<void> {
  await exec('bash', ['scripts/engine.sh'], { cwd: ROOT });
  await eventually(() => engineAnswers(), 60_000, 'dockerd answering');
}
