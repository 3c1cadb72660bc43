import request from 'supertest';
import { EngineUnavailableError, RunFailedError } from '../../src/errors';
import type { RunResult } from '../../src/runner/run-types';
import { flushPromises } from './support/flush';
import { makeTestApp, REPLICA, RESULT } from './support/test-app';

const BUSYBOX = 'warmpool-test/busybox';
const PYTHON = 'warmpool-test/python';
const RUN = { image: BUSYBOX, main: 'echo hi' };

describe('GET /pools', () => {
  it('answers the replica id and the status of every pool', async () => {
    const app = makeTestApp();

    const response = await request(app.app).get('/pools');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ replica: REPLICA, engine: 'up', pools: app.pools.status() });
    expect(response.body.pools.map((pool: { image: string; size: number }) => [pool.image, pool.size])).toEqual([
      [BUSYBOX, 2],
      [PYTHON, 1],
    ]);
  });
});

describe('POST /consumed', () => {
  it('answers 202 and tops up the pool of the image', async () => {
    const app = makeTestApp();
    const fill = jest.spyOn(app.pools.get(PYTHON), 'fill');

    const response = await request(app.app).post('/consumed').send({ image: PYTHON, count: 1, from: 'replica-b' });

    expect(response.status).toBe(202);
    expect(response.body).toEqual({ accepted: true });
    expect(fill).toHaveBeenCalledTimes(1);
    expect(app.factory.creations.map((call) => call.image)).toEqual([PYTHON]);
  });

  it('takes a note without count or from', async () => {
    const app = makeTestApp();

    const response = await request(app.app).post('/consumed').send({ image: BUSYBOX });

    expect(response.status).toBe(202);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a count of 0', { image: BUSYBOX, count: 0 }, 'count: expected a whole number from 1 to 1000, got 0'],
    ['a count over 1000', { image: BUSYBOX, count: 1001 }, 'count: expected a whole number from 1 to 1000, got 1001'],
    ['a fractional count', { image: BUSYBOX, count: 1.5 }, 'count: expected a whole number from 1 to 1000, got 1.5'],
    ['a count as text', { image: BUSYBOX, count: '1' }, 'count: expected a whole number from 1 to 1000, got "1"'],
    ['a missing image', { count: 1 }, 'image: expected an image name, got nothing'],
    ['a sender that is not text', { image: BUSYBOX, from: 7 }, "from: expected the sending replica's id, got 7"],
  ])('answers 400 for %s and fills nothing', async (_what, body, message) => {
    const app = makeTestApp();

    const response = await request(app.app).post('/consumed').send(body);

    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: message });
    expect(app.factory.creations).toEqual([]);
  });

  it('answers 404 for an image no pool serves', async () => {
    const app = makeTestApp();

    const response = await request(app.app).post('/consumed').send({ image: 'alpine', count: 1 });

    expect(response.status).toBe(404);
    expect(response.body.error).toBe(`image "alpine" is not configured here; configured images: ${BUSYBOX}, ${PYTHON}`);
    expect(app.factory.creations).toEqual([]);
  });
});

describe('GET /healthz', () => {
  it('answers 200 with the replica id while taking runs', async () => {
    const app = makeTestApp();

    const response = await request(app.app).get('/healthz');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok', replica: REPLICA, engine: 'up', runsInFlight: 0 });
  });

  it('counts the runs under way', async () => {
    const app = makeTestApp();
    let finishRun!: (result: RunResult) => void;
    app.run.mockReturnValueOnce(
      new Promise((resolve) => {
        finishRun = resolve;
      }),
    );
    const running = request(app.app)
      .post('/run')
      .send(RUN)
      .then((response) => response);
    while (app.run.mock.calls.length === 0) await flushPromises();

    const during = await request(app.app).get('/healthz');
    finishRun(RESULT);
    await running;
    const after = await request(app.app).get('/healthz');

    expect(during.body.runsInFlight).toBe(1);
    expect(after.body.runsInFlight).toBe(0);
  });

  it('answers 503 once the replica is shutting down', async () => {
    const app = makeTestApp();
    await app.inFlight.close();

    const response = await request(app.app).get('/healthz');

    expect(response.status).toBe(503);
    expect(response.body).toEqual({ status: 'shutting_down', replica: REPLICA, engine: 'up', runsInFlight: 0 });
  });
});

describe('POST /run results', () => {
  it('answers the files the run left, its outcome and its timings as the runner gives them', async () => {
    const app = makeTestApp();
    const result: RunResult = {
      ...RESULT,
      exitCode: 137,
      signal: 'SIGKILL',
      outcome: 'oom',
      files: {
        changed: [
          { path: 'out.txt', change: 'created', size: 3, content: 'hi\n', truncated: false, binary: false },
          { path: 'data.bin', change: 'modified', size: 2, content: null, truncated: false, binary: true },
        ],
        deleted: ['input.txt'],
        truncated: true,
      },
      timings: { queuedMs: 3, checkoutMs: 1, executeMs: 5, collectMs: 2.5, totalMs: 11.5 },
    };
    app.run.mockResolvedValueOnce(result);

    const response = await request(app.app)
      .post('/run')
      .send({ ...RUN, returnFiles: true });

    expect(response.status).toBe(200);
    expect(response.body).toEqual(result);
    expect(app.run.mock.calls[0][0].returnFiles).toBe(true);
  });

  it('answers files null for a run that asked for none', async () => {
    const app = makeTestApp();

    const response = await request(app.app)
      .post('/run')
      .send({ ...RUN, returnFiles: false });

    expect(app.run.mock.calls[0][0].returnFiles).toBe(false);
    expect(response.body.files).toBeNull();
  });
});

describe('POST /run while shutting down', () => {
  it('answers 503 with Retry-After and starts no run', async () => {
    const app = makeTestApp();
    await app.inFlight.close();

    const response = await request(app.app).post('/run').send(RUN);

    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body.error).toBe('this replica is shutting down and takes no new runs; retry on another replica');
    expect(app.run).not.toHaveBeenCalled();
  });
});

describe('errors from a run', () => {
  it("answers a fault of warmpool's own with 500 and its message", async () => {
    const app = makeTestApp();
    app.run.mockRejectedValueOnce(new RunFailedError("could not unpack the run's files in the container"));

    const response = await request(app.app).post('/run').send(RUN);

    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: "could not unpack the run's files in the container" });
  });

  it('answers an unexpected error with 500 and no stack trace', async () => {
    const app = makeTestApp();
    app.run.mockRejectedValueOnce(new TypeError('cannot read properties of undefined'));

    const response = await request(app.app).post('/run').send(RUN);

    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: 'internal error: cannot read properties of undefined' });
    expect(response.text).not.toMatch(/\bat .+\(.+:\d+:\d+\)/);
  });

  it('answers an engine that does not answer with 503 and Retry-After', async () => {
    const app = makeTestApp();
    app.run.mockRejectedValueOnce(new EngineUnavailableError('no Docker Engine answers'));

    const response = await request(app.app).post('/run').send(RUN);

    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body).toEqual({ error: 'no Docker Engine answers' });
  });
});

describe('unknown endpoints', () => {
  it.each([
    ['GET', '/nowhere'],
    ['DELETE', '/runs'],
  ])('answer %s %s with 404 in JSON', async (method, path) => {
    const app = makeTestApp();

    const response = await request(app.app)[method.toLowerCase() as 'get' | 'delete'](path);

    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: `no such endpoint: ${method} ${path}` });
  });

  it.each([
    ['GET', '/run', 'POST'],
    ['DELETE', '/pools', 'GET'],
    ['PUT', '/consumed', 'POST'],
    ['POST', '/healthz', 'GET'],
  ])('answer %s %s with 405, naming the method it takes in Allow and in JSON', async (method, path, allowed) => {
    const app = makeTestApp();

    const response = await request(app.app)[method.toLowerCase() as 'get' | 'delete' | 'put' | 'post'](path);

    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe(allowed);
    expect(response.body).toEqual({ error: `${method} ${path}: expected ${allowed}` });
    expect(app.run).not.toHaveBeenCalled();
  });
});
