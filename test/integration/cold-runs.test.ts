import {
  BUSYBOX,
  eventually,
  poolLevels,
  removeReplicaContainers,
  replicaContainers,
  run,
  type RunningDaemon,
  startDaemon,
} from '../support/daemon-harness';

describe('runs when no container is ready', () => {
  let replica: RunningDaemon;

  beforeAll(async () => {
    replica = await startDaemon('cold', { pools: [{ image: BUSYBOX, size: 0 }] });
  });

  afterAll(async () => {
    await replica.stop();
    await removeReplicaContainers(replica.config.replicaId);
  });

  it('creates a container on demand and still answers the run', async () => {
    const result = await run(replica.url, BUSYBOX, 'echo cold; id -u');

    expect(result).toMatchObject({
      stdout: { content: 'cold\n40000\n' },
      exitCode: 0,
      outcome: 'completed',
      warm: false,
    });
    const pool = await poolLevels(replica.url, BUSYBOX);
    expect(pool).toMatchObject({ size: 0, ready: 0, misses: 1, hits: 0, created: 1, failed: 0 });
  });

  it('leaves no container behind once the run is answered', async () => {
    await run(replica.url, BUSYBOX, 'true');

    await eventually(
      async () => (await replicaContainers(replica.config.replicaId)).length === 0,
      10_000,
      'used container removed',
    );
  });
});
