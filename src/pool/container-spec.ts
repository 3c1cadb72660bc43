import type Docker from 'dockerode';
import type { ContainerLimits } from '../config/config';
import { KEEPER_USER } from '../config/defaults';
import { containerLabels } from './labels';

/** Printed by the entrypoint once it is about to wait; creation waits for it before pausing. */
export const READY_MARKER = 'warmpool-ready';

/**
 * The entrypoint warmpool gives every pooled container, so any image with /bin/sh works
 * unchanged. It announces itself and then stops itself, which needs no other program and uses
 * no CPU, until the container is removed. Should anything continue it, it waits in a sleep loop.
 * Runs arrive through `docker exec`, never through this process.
 */
const KEEPER_SCRIPT = `echo ${READY_MARKER}; kill -STOP $$; trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done`;

/** Docker's create options for one pooled container of `image`, locked down to `limits`. */
export function containerSpec(
  image: string,
  replicaId: string,
  limits: ContainerLimits,
): Docker.ContainerCreateOptions {
  const mib = 1024 * 1024;
  const owner = `uid=${limits.sandboxUid},gid=${limits.sandboxGid}`;
  // exec: runs may execute what they unpack; nosuid and nodev: nothing there may raise privileges.
  const tmpfs = (sizeMb: number) => `rw,exec,nosuid,nodev,size=${sizeMb}m,mode=0755,${owner}`;

  return {
    Image: image,
    Entrypoint: ['/bin/sh', '-c', KEEPER_SCRIPT],
    Cmd: [],
    User: KEEPER_USER,
    WorkingDir: '/',
    Env: ['HOME=/home/sandbox'],
    Labels: containerLabels(replicaId, image),
    NetworkDisabled: true,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      Tmpfs: {
        '/tmp': tmpfs(limits.tmpSizeMb),
        '/sandbox': tmpfs(limits.sandboxSizeMb),
        '/home/sandbox': tmpfs(limits.homeSizeMb),
      },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      // docker-init as PID 1 reaps the orphans a run leaves behind, so zombies cannot fill the pids limit.
      Init: true,
      PidsLimit: limits.pidsLimit,
      Memory: limits.memoryMb * mib,
      MemorySwap: limits.memoryMb * mib,
      NanoCpus: Math.round(limits.cpus * 1e9),
      // Under host memory pressure the kernel should pick a run, not the daemon or the engine.
      OomScoreAdj: 500,
      Ulimits: [
        { Name: 'core', Soft: 0, Hard: 0 },
        { Name: 'fsize', Soft: limits.fileSizeMb * mib, Hard: limits.fileSizeMb * mib },
        { Name: 'nofile', Soft: limits.openFiles, Hard: limits.openFiles },
      ],
      IpcMode: 'private',
      RestartPolicy: { Name: 'no' },
      AutoRemove: false,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '64k', 'max-file': '1' } },
    },
  };
}
