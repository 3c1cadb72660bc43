import Docker from 'dockerode';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { BUSYBOX, poolLevels, postRun, removeReplicaContainers, replicaContainers, type RunningDaemon,
  startDaemon, waitForFullPool } from '../support/daemon-harness';
import { EngineProxy } from '../support/engine-proxy';

async function tgz(entries: Array<{ name: string; content: string; mode?: number }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) pack.entry({ name: entry.name, mode: entry.mode ?? 0o644 }, entry.content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

async function postArchive(url: string, query: string, body: Buffer): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/run?${query}`, {
    method: 'POST', headers: { 'content-type': 'application/gzip' }, body,
  });
  return { status: response.status, body: await response.json() };
}

describe('the HTTP API against the real engine', () => {
  let replica: RunningDaemon;

  beforeAll(async () => {
    replica = await startDaemon('http', { pools: [{ image: BUSYBOX, size: 1 }], bodyLimitBytes: 64 * 1024 });
    await waitForFullPool(replica.url, BUSYBOX);
  });

  afterAll(async () => {
    await replica.stop();
    await removeReplicaContainers(replica.config.replicaId);
  });

  it('runs a plain tar pipe: a gzip\'d tar body with image and maxSeconds in the query', async () => {
    const archive = await tgz([
      { name: 'tmp/main.sh', content: 'cat data/input.txt; ls -l run.sh | cut -c1-10; ./run.sh', mode: 0o755 },
      { name: 'sandbox/data/input.txt', content: 'from the archive\n' },
      { name: 'sandbox/run.sh', content: '#!/bin/sh\necho executable\n', mode: 0o755 },
    ]);

    const { status, body } = await postArchive(replica.url, `image=${encodeURIComponent(BUSYBOX)}&maxSeconds=5`, archive);

    expect(status).toBe(200);
    expect(body).toMatchObject({
      stdout: { content: 'from the archive\n-rwxr-xr-x\nexecutable\n' }, exitCode: 0, outcome: 'completed',
    });
  });

  it('answers every bad request with a 4xx message and takes no container', async () => {
    await waitForFullPool(replica.url, BUSYBOX);
    const before = await poolLevels(replica.url, BUSYBOX);
    const bad = [
      { body: '{"image": ', status: 400, message: /not valid JSON/ },
      { body: JSON.stringify({ main: 'echo' }), status: 400, message: /image/ },
      { body: JSON.stringify({ image: BUSYBOX }), status: 400, message: /main/ },
      { body: JSON.stringify({ image: 'not/configured', main: 'echo' }), status: 404, message: /not configured/ },
      { body: JSON.stringify({ image: BUSYBOX, main: 'echo', maxSeconds: 0 }), status: 400, message: /maxSeconds/ },
      { body: JSON.stringify({ image: BUSYBOX, main: 'echo', maxSeconds: 3600 }), status: 400, message: /maxSeconds/ },
      { body: JSON.stringify({ image: BUSYBOX, main: 'x'.repeat(70 * 1024) }), status: 413, message: /at most 65536 bytes/ },
      { body: JSON.stringify({ image: BUSYBOX, main: 'echo', files: { '../escape': 'x' } }), status: 400, message: /\.\./ },
    ];

    for (const request of bad) {
      const response = await fetch(`${replica.url}/run`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: request.body,
      });
      const body = await response.json() as { error: string };
      expect({ status: response.status, error: body.error }).toEqual({ status: request.status, error: expect.stringMatching(request.message) });
    }

    const archive = await postArchive(replica.url, `image=${encodeURIComponent(BUSYBOX)}`, Buffer.from('not gzip'));
    expect(archive.status).toBe(400);

    const after = await poolLevels(replica.url, BUSYBOX);
    expect(after).toMatchObject({ hits: before.hits, misses: before.misses, created: before.created, ready: 1 });
  });

  it('answers 503 saying the engine does not answer, and keeps serving once it does', async () => {
    const proxy = new EngineProxy();
    await proxy.open();
    const cut = await startDaemon('engine-gone', { pools: [{ image: BUSYBOX, size: 1 }] }, new Docker({ socketPath: proxy.socketPath }));
    try {
      await waitForFullPool(cut.url, BUSYBOX);
      await proxy.cut();

      const response = await fetch(`${cut.url}/run`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: BUSYBOX, main: 'echo hi' }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(((await response.json()) as { error: string }).error).toMatch(/Docker Engine does not answer/);
      expect((await fetch(`${cut.url}/healthz`)).status).toBe(200);

      await proxy.open();
      const { status, body } = await postRun(cut.url, { image: BUSYBOX, main: 'echo back' });
      expect({ status, stdout: body.stdout }).toEqual({ status: 200, stdout: { content: 'back\n', truncated: false } });
    } finally {
      await proxy.open().catch(() => {});
      await cut.stop();
      await proxy.dispose();
      await removeReplicaContainers(cut.config.replicaId);
    }
    expect(await replicaContainers(cut.config.replicaId)).toHaveLength(0);
  });
});
