import Docker from 'dockerode';
import {
  BUSYBOX,
  engineState,
  eventually,
  poolLevels,
  postRun,
  removeReplicaContainers,
  replicaContainers,
  startDaemon,
  waitForFullPool,
} from '../support/daemon-harness';
import { useReplica } from '../support/use-replica';
import { EngineProxy } from '../support/engine-proxy';
import { expectRefusedAtOnce } from '../support/expect-refused';
import { postArchive, tgz } from '../support/tgz';

describe('the HTTP API against the real engine', () => {
  const replica = useReplica('http', { pools: [{ image: BUSYBOX, size: 1 }], bodyLimitBytes: 64 * 1024 });

  it("runs a plain tar pipe: a gzip'd tar body with image and maxSeconds in the query", async () => {
    const archive = await tgz([
      { name: 'tmp/main.sh', content: 'cat data/input.txt; ls -l run.sh | cut -c1-10; ./run.sh', mode: 0o755 },
      { name: 'sandbox/data/input.txt', content: 'from the archive\n' },
      { name: 'sandbox/run.sh', content: '#!/bin/sh\necho executable\n', mode: 0o755 },
    ]);

    const { status, body } = await postArchive(replica.url, { image: BUSYBOX, maxSeconds: '5' }, archive);

    expect(status).toBe(200);
    expect(body).toMatchObject({
      stdout: { content: 'from the archive\n-rwxr-xr-x\nexecutable\n' },
      exitCode: 0,
      outcome: 'completed',
    });
  });

  it('answers every bad request with a 4xx message and takes no container', async () => {
    await waitForFullPool(replica.url, BUSYBOX);
    const before = await poolLevels(replica.url, BUSYBOX);
    const bad = [
      { body: '{"image": ', status: 400, message: /not valid JSON/ },
      { body: '', status: 400, message: /image: expected one of/ },
      { body: JSON.stringify({ main: 'echo' }), status: 400, message: /image/ },
      { body: JSON.stringify({ image: BUSYBOX }), status: 400, message: /main/ },
      { body: JSON.stringify({ image: 'not/configured', main: 'echo' }), status: 404, message: /not configured/ },
      { body: JSON.stringify({ image: BUSYBOX, main: 'echo', maxSeconds: 0 }), status: 400, message: /maxSeconds/ },
      { body: JSON.stringify({ image: BUSYBOX, main: 'echo', maxSeconds: 3600 }), status: 400, message: /maxSeconds/ },
      {
        body: JSON.stringify({ image: BUSYBOX, main: 'x'.repeat(70 * 1024) }),
        status: 413,
        message: /at most 65536 bytes/,
      },
      {
        body: JSON.stringify({ image: BUSYBOX, main: 'echo', files: { '../escape': 'x' } }),
        status: 400,
        message: /\.\./,
      },
    ];

    for (const request of bad) {
      const response = await fetch(`${replica.url}/run`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: request.body,
      });
      const body = (await response.json()) as { error: string };
      expect({ status: response.status, error: body.error }).toEqual({
        status: request.status,
        error: expect.stringMatching(request.message),
      });
    }

    const archive = await postArchive(replica.url, { image: BUSYBOX }, Buffer.from('not gzip'));
    expect(archive.status).toBe(400);

    const after = await poolLevels(replica.url, BUSYBOX);
    expect(after).toMatchObject({ hits: before.hits, misses: before.misses, created: before.created, ready: 1 });
  });

  it('answers 503 at once while the engine is away, and serves again once it is back', async () => {
    const proxy = new EngineProxy();
    await proxy.open();
    const cut = await startDaemon(
      'engine-gone',
      { pools: [{ image: BUSYBOX, size: 1 }] },
      new Docker({ socketPath: proxy.socketPath }),
    );
    try {
      await waitForFullPool(cut.url, BUSYBOX);
      await proxy.cut();
      await eventually(async () => (await engineState(cut.url)) === 'down', 10_000, 'engine seen down');

      expect(await expectRefusedAtOnce(cut.url, BUSYBOX)).toMatch(/Docker Engine is not answering/);
      expect((await fetch(`${cut.url}/healthz`)).status).toBe(200);

      await proxy.open();
      await eventually(async () => (await engineState(cut.url)) === 'up', 20_000, 'engine seen up again');
      await waitForFullPool(cut.url, BUSYBOX);
      const { status, body } = await postRun(cut.url, { image: BUSYBOX, main: 'echo back' });
      expect({ status, stdout: body.stdout, warm: body.warm }).toEqual({
        status: 200,
        stdout: { content: 'back\n', truncated: false },
        warm: true,
      });
    } finally {
      await proxy.open().catch(() => {});
      await cut.stop();
      await proxy.dispose();
      await removeReplicaContainers(cut.config.replicaId);
    }
    expect(await replicaContainers(cut.config.replicaId)).toHaveLength(0);
  });
});
