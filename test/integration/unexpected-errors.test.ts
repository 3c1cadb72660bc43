import { resolve } from 'node:path';
import {
  BUSYBOX,
  eventually,
  removeReplicaContainers,
  replicaContainers,
  uniqueReplicaId,
  waitForFullPool,
} from '../support/daemon-harness';
import { buildDaemon, spawnDaemon } from '../support/daemon-process';

const FAULTS = resolve(__dirname, '../support/fault-injection.js');

describe('errors nobody expected', () => {
  const replicaId = uniqueReplicaId('unexpected');

  beforeAll(() => buildDaemon());

  afterAll(() => removeReplicaContainers(replicaId));

  it('logs a stray rejection and keeps serving; on a fatal error removes its containers and exits non-zero', async () => {
    const daemon = await spawnDaemon(
      replicaId,
      { pools: [{ image: BUSYBOX, size: 2 }] },
      {
        NODE_OPTIONS: `--require ${FAULTS}`,
        WARMPOOL_TEST_REJECT_AFTER_MS: '1500',
        WARMPOOL_TEST_THROW_AFTER_MS: '6000',
      },
    );
    try {
      await eventually(
        async () => (await fetch(`${daemon.url}/healthz`).catch(() => undefined))?.status === 200,
        10_000,
        'daemon listening',
      );
      await waitForFullPool(daemon.url, BUSYBOX);
      await eventually(
        () => daemon.output().includes('stray rejection injected by a test'),
        10_000,
        'rejection logged',
      );

      expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200);
      expect(daemon.output()).toMatch(/"level":"error","message":"unhandled rejection"/);

      expect(await daemon.exited).toBe(1);
      expect(daemon.output()).toMatch(/uncaught exception; removing this replica's containers and exiting/);
      expect(await replicaContainers(replicaId)).toHaveLength(0);
    } finally {
      daemon.child.kill('SIGKILL');
    }
  });
});
