import request from 'supertest';
import zlib from 'node:zlib';
import { makeTgz, readTar, type TestEntry } from './support/tgz';
import { makeTestApp, RESULT } from './support/test-app';

const BUSYBOX = 'warmpool-test/busybox';
const PYTHON = 'warmpool-test/python';
const IMAGES = 'warmpool-test/busybox, warmpool-test/python';
const MAIN: TestEntry = { name: 'tmp/main.sh', content: 'echo hi\n', mode: 0o755 };

type TestApp = ReturnType<typeof makeTestApp>;

/** Checks a refusal: its status, its JSON message, and that no run (so no container) was started. */
function expectRefused(app: TestApp, response: request.Response, status: number, message: string | RegExp): void {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  if (typeof message === 'string') expect(response.body).toEqual({ error: message });
  else expect(response.body.error).toMatch(message);
  expect(app.run).not.toHaveBeenCalled();
}

function postJson(app: TestApp, body: unknown) {
  return request(app.app)
    .post('/run')
    .send(body as object);
}

function postArchive(app: TestApp, archive: Buffer, query: Record<string, string>, type = 'application/gzip') {
  return request(app.app).post('/run').query(query).set('content-type', type).send(archive);
}

describe('POST /run as JSON', () => {
  it('hands the runner a packed archive with the configured defaults, and answers its result', async () => {
    const app = makeTestApp();

    const response = await postJson(app, { image: BUSYBOX, main: 'cat data.txt', files: { 'data.txt': 'x' } });

    expect(response.status).toBe(200);
    expect(response.body).toEqual(RESULT);
    expect(app.run).toHaveBeenCalledTimes(1);
    const [runRequest, signal] = app.run.mock.calls[0];
    expect(runRequest).toEqual({
      image: BUSYBOX,
      archive: expect.any(Buffer),
      maxSeconds: 10,
      outputLimitBytes: 1024 * 1024,
      encoding: 'utf8',
      returnFiles: true,
    });
    expect(signal).toBeInstanceOf(AbortSignal);
    const entries = await readTar(runRequest.archive);
    expect(entries.map((entry) => [entry.name, entry.content.toString()])).toEqual([
      ['tmp/main.sh', 'cat data.txt'],
      ['sandbox/data.txt', 'x'],
    ]);
  });

  it('takes maxSeconds, outputLimitBytes, encoding and returnFiles when given', async () => {
    const app = makeTestApp();

    await postJson(app, {
      image: BUSYBOX,
      main: 'true',
      maxSeconds: 0.5,
      outputLimitBytes: 0,
      encoding: 'base64',
      returnFiles: false,
    });

    expect(app.run.mock.calls[0][0]).toMatchObject({
      maxSeconds: 0.5,
      outputLimitBytes: 0,
      encoding: 'base64',
      returnFiles: false,
    });
  });

  it('takes returnFiles from run.returnFiles when the run names no preference, and true when it does', async () => {
    const app = makeTestApp({ run: { returnFiles: false } });

    await postJson(app, { image: BUSYBOX, main: 'true' });
    await postJson(app, { image: BUSYBOX, main: 'true', returnFiles: true });

    expect(app.run.mock.calls.map(([runRequest]) => runRequest.returnFiles)).toEqual([false, true]);
  });

  it('takes the default outputLimitBytes from the pool of the image', async () => {
    const app = makeTestApp({
      pools: [
        { image: BUSYBOX, size: 1, outputLimitBytes: 500 },
        { image: PYTHON, size: 1 },
      ],
    });

    await postJson(app, { image: BUSYBOX, main: 'true' });
    await postJson(app, { image: PYTHON, main: 'true' });

    expect(app.run.mock.calls.map(([runRequest]) => [runRequest.image, runRequest.outputLimitBytes])).toEqual([
      [BUSYBOX, 500],
      [PYTHON, 1024 * 1024],
    ]);
  });

  it("lets a run go above its pool's default output limit, up to the run ceiling", async () => {
    const app = makeTestApp({ pools: [{ image: BUSYBOX, size: 1, outputLimitBytes: 500 }] });

    await postJson(app, { image: BUSYBOX, main: 'true', outputLimitBytes: 16 * 1024 * 1024 });
    const tooMuch = await postJson(app, { image: BUSYBOX, main: 'true', outputLimitBytes: 16 * 1024 * 1024 + 1 });

    expect(app.run.mock.calls[0][0].outputLimitBytes).toBe(16 * 1024 * 1024);
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error).toBe(
      'outputLimitBytes: expected a whole number of bytes from 0 to 16777216, got 16777217',
    );
  });

  it('takes the configured run defaults and ceilings', async () => {
    const app = makeTestApp({ run: { defaultMaxSeconds: 3, maxSecondsCeiling: 5 } });

    await postJson(app, { image: BUSYBOX, main: 'true' });
    const tooLong = await postJson(app, { image: BUSYBOX, main: 'true', maxSeconds: 6 });

    expect(app.run.mock.calls[0][0].maxSeconds).toBe(3);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toBe('maxSeconds: expected a number of seconds above 0 and at most 5, got 6');
  });

  it('answers 400 for malformed JSON', async () => {
    const app = makeTestApp();

    const response = await request(app.app).post('/run').set('content-type', 'application/json').send('{"image": ');

    expectRefused(app, response, 400, /^request body: not valid JSON: /);
  });

  it.each<[string, unknown, string]>([
    ['a body that is not an object', ['echo hi'], 'expected a JSON object with "image" and "main"'],
    ['a missing image', { main: 'echo hi' }, `image: expected one of ${IMAGES}, got nothing`],
    ['an empty image', { image: '', main: 'echo hi' }, `image: expected one of ${IMAGES}, got ""`],
    ['a missing main', { image: BUSYBOX }, 'main: expected the text of /tmp/main.sh, got nothing'],
    [
      'a main that is not text',
      { image: BUSYBOX, main: ['echo'] },
      'main: expected the text of /tmp/main.sh, got ["echo"]',
    ],
    [
      'an unknown field',
      { image: BUSYBOX, main: 'true', timeout: 5 },
      'timeout: unknown field; expected only image, main, files, maxSeconds, outputLimitBytes, encoding, returnFiles',
    ],
    [
      'files that are not an object',
      { image: BUSYBOX, main: 'true', files: ['a.txt'] },
      'files: expected an object of relative path to text, got ["a.txt"]',
    ],
    [
      'a file that is not text',
      { image: BUSYBOX, main: 'true', files: { 'a.txt': 5 } },
      'files["a.txt"]: expected text, got 5',
    ],
    [
      'a file path climbing out',
      { image: BUSYBOX, main: 'true', files: { '../etc/passwd': 'x' } },
      'files["../etc/passwd"]: expected a path without "..", "." or empty segments',
    ],
  ])('answers 400 for %s', async (_what, body, message) => {
    const app = makeTestApp();

    expectRefused(app, await postJson(app, body), 400, message);
  });

  it('answers 404 naming the configured images for an unknown image', async () => {
    const app = makeTestApp();

    const response = await postJson(app, { image: 'alpine', main: 'true' });

    expectRefused(app, response, 404, `image "alpine" is not configured here; configured images: ${IMAGES}`);
  });

  it.each<[string, unknown]>([
    ['0', 0],
    ['-1', -1],
    ['above the ceiling', 60.5],
    ['a string', '5'],
    ['null', null],
  ])('answers 400 naming maxSeconds for maxSeconds of %s', async (_what, maxSeconds) => {
    const app = makeTestApp();

    const response = await postJson(app, { image: BUSYBOX, main: 'true', maxSeconds });

    const shown = JSON.stringify(maxSeconds);
    expectRefused(app, response, 400, `maxSeconds: expected a number of seconds above 0 and at most 60, got ${shown}`);
  });

  it.each<[string, unknown]>([
    ['negative', -1],
    ['fractional', 1.5],
    ['above the ceiling', 16 * 1024 * 1024 + 1],
    ['a string', '1024'],
  ])('answers 400 naming outputLimitBytes for one that is %s', async (_what, outputLimitBytes) => {
    const app = makeTestApp();

    const response = await postJson(app, { image: BUSYBOX, main: 'true', outputLimitBytes });

    expectRefused(
      app,
      response,
      400,
      'outputLimitBytes: expected a whole number of bytes from 0 to 16777216, ' +
        `got ${JSON.stringify(outputLimitBytes)}`,
    );
  });

  it.each<[string, unknown]>([
    ['text', 'true'],
    ['a number', 1],
    ['null', null],
  ])('answers 400 naming returnFiles for returnFiles as %s', async (_what, returnFiles) => {
    const app = makeTestApp();

    const response = await postJson(app, { image: BUSYBOX, main: 'true', returnFiles });

    expectRefused(app, response, 400, `returnFiles: expected true or false, got ${JSON.stringify(returnFiles)}`);
  });

  it.each(['hex', 'UTF8', ''])('answers 400 naming encoding for encoding %j', async (encoding) => {
    const app = makeTestApp();

    const response = await postJson(app, { image: BUSYBOX, main: 'true', encoding });

    expectRefused(app, response, 400, `encoding: expected "utf8" or "base64", got "${encoding}"`);
  });

  it('answers 400 when the files go over the archive limits', async () => {
    const app = makeTestApp({ run: { archiveMaxEntries: 2 } });

    const response = await postJson(app, { image: BUSYBOX, main: 'true', files: { a: '1', b: '2' } });

    expectRefused(app, response, 400, 'files: expected at most 1 file(s), got 2');
  });

  it('answers 413 for a body over bodyLimitBytes', async () => {
    const app = makeTestApp({ bodyLimitBytes: 1024 });

    const response = await postJson(app, { image: BUSYBOX, main: `echo ${'x'.repeat(2000)}` });

    expectRefused(app, response, 413, 'request body: expected at most 1024 bytes, got more');
  });

  it('answers 415 for a content type it does not take', async () => {
    const app = makeTestApp();

    const response = await request(app.app).post('/run').set('content-type', 'text/plain').send('echo hi');

    expectRefused(app, response, 415, 'expected Content-Type application/json or application/gzip, got text/plain');
  });
});

describe("POST /run as a gzip'd tar", () => {
  it('hands the runner the archive unzipped, with settings from the query', async () => {
    const app = makeTestApp();
    const archive = await makeTgz([MAIN, { name: 'sandbox/data.txt', content: 'x' }]);

    const query = { image: BUSYBOX, maxSeconds: '2.5', outputLimitBytes: '100', encoding: 'base64' };
    const response = await postArchive(app, archive, query);

    expect(response.status).toBe(200);
    expect(app.run).toHaveBeenCalledTimes(1);
    expect(app.run.mock.calls[0][0]).toEqual({
      image: BUSYBOX,
      archive: zlib.gunzipSync(archive),
      maxSeconds: 2.5,
      outputLimitBytes: 100,
      encoding: 'base64',
      returnFiles: true,
    });
  });

  it.each([
    ['true', true],
    ['false', false],
  ])('takes returnFiles=%s from the query', async (text, returnFiles) => {
    const app = makeTestApp({ run: { returnFiles: !returnFiles } });

    await postArchive(app, await makeTgz([MAIN]), { image: BUSYBOX, returnFiles: text });

    expect(app.run.mock.calls[0][0].returnFiles).toBe(returnFiles);
  });

  it('takes returnFiles from run.returnFiles when the query names none', async () => {
    const app = makeTestApp({ run: { returnFiles: false } });

    await postArchive(app, await makeTgz([MAIN]), { image: BUSYBOX });

    expect(app.run.mock.calls[0][0].returnFiles).toBe(false);
  });

  it('takes the default outputLimitBytes from the pool of the image, and a query value over it', async () => {
    const app = makeTestApp({ pools: [{ image: BUSYBOX, size: 1, outputLimitBytes: 500 }] });
    const archive = await makeTgz([MAIN]);

    await postArchive(app, archive, { image: BUSYBOX });
    await postArchive(app, archive, { image: BUSYBOX, outputLimitBytes: '2000' });

    expect(app.run.mock.calls.map(([runRequest]) => runRequest.outputLimitBytes)).toEqual([500, 2000]);
  });

  it.each(['application/x-gzip', 'application/x-tar+gzip'])('takes the content type %s too', async (type) => {
    const app = makeTestApp();

    const response = await postArchive(app, await makeTgz([MAIN]), { image: BUSYBOX }, type);

    expect(response.status).toBe(200);
    expect(app.run.mock.calls[0][0]).toMatchObject({ maxSeconds: 10, outputLimitBytes: 1024 * 1024, encoding: 'utf8' });
  });

  it('answers 400 naming the entry for an archive with a bad entry', async () => {
    const app = makeTestApp();
    const archive = await makeTgz([MAIN, { name: 'sandbox/link', type: 'symlink', linkname: '/etc/shadow' }]);

    const response = await postArchive(app, archive, { image: BUSYBOX });

    expectRefused(app, response, 400, 'archive entry "sandbox/link": expected a file or directory, got a symlink');
  });

  it('answers 400 for a body that is not gzip', async () => {
    const app = makeTestApp();

    const response = await postArchive(app, Buffer.from('plain text'), { image: BUSYBOX });

    expectRefused(app, response, 400, /^archive: not valid gzip data: /);
  });

  it('answers 400 for an empty body', async () => {
    const app = makeTestApp();

    const response = await postArchive(app, Buffer.alloc(0), { image: BUSYBOX });

    expectRefused(app, response, 400, "expected a gzip'd tar archive as the request body, got an empty body");
  });

  it.each<[string, Record<string, string>, string]>([
    ['a missing image', {}, `image: expected one of ${IMAGES}, got nothing`],
    [
      'maxSeconds that is not a number',
      { image: BUSYBOX, maxSeconds: 'abc' },
      'maxSeconds: expected a number, got "abc"',
    ],
    [
      'maxSeconds of 0',
      { image: BUSYBOX, maxSeconds: '0' },
      'maxSeconds: expected a number of seconds above 0 and at most 60, got 0',
    ],
    [
      'maxSeconds above the ceiling',
      { image: BUSYBOX, maxSeconds: '61' },
      'maxSeconds: expected a number of seconds above 0 and at most 60, got 61',
    ],
    [
      'an empty outputLimitBytes',
      { image: BUSYBOX, outputLimitBytes: '' },
      'outputLimitBytes: expected a number, got ""',
    ],
    [
      'a fractional outputLimitBytes',
      { image: BUSYBOX, outputLimitBytes: '1.5' },
      'outputLimitBytes: expected a whole number of bytes from 0 to 16777216, got 1.5',
    ],
    [
      'a hexadecimal outputLimitBytes',
      { image: BUSYBOX, outputLimitBytes: '0x10' },
      'outputLimitBytes: expected a number, got "0x10"',
    ],
    [
      'an outputLimitBytes in exponent notation',
      { image: BUSYBOX, outputLimitBytes: '1e1' },
      'outputLimitBytes: expected a number, got "1e1"',
    ],
    [
      'a maxSeconds in exponent notation',
      { image: BUSYBOX, maxSeconds: '1e1' },
      'maxSeconds: expected a number, got "1e1"',
    ],
    ['a hexadecimal maxSeconds', { image: BUSYBOX, maxSeconds: '0x10' }, 'maxSeconds: expected a number, got "0x10"'],
    ['a maxSeconds with a sign', { image: BUSYBOX, maxSeconds: '+5' }, 'maxSeconds: expected a number, got "+5"'],
    ['a maxSeconds with spaces', { image: BUSYBOX, maxSeconds: ' 5' }, 'maxSeconds: expected a number, got " 5"'],
    [
      'returnFiles that is not true or false',
      { image: BUSYBOX, returnFiles: 'yes' },
      'returnFiles: expected true or false, got "yes"',
    ],
    ['returnFiles of 1', { image: BUSYBOX, returnFiles: '1' }, 'returnFiles: expected true or false, got "1"'],
    ['an empty returnFiles', { image: BUSYBOX, returnFiles: '' }, 'returnFiles: expected true or false, got ""'],
    [
      'returnFiles in capitals',
      { image: BUSYBOX, returnFiles: 'TRUE' },
      'returnFiles: expected true or false, got "TRUE"',
    ],
    [
      'an unknown encoding',
      { image: BUSYBOX, encoding: 'latin1' },
      'encoding: expected "utf8" or "base64", got "latin1"',
    ],
    [
      'an unknown parameter',
      { image: BUSYBOX, timeout: '5' },
      'timeout: unknown query parameter; expected only image, maxSeconds, outputLimitBytes, encoding, returnFiles',
    ],
  ])('answers 400 for %s in the query', async (_what, query, message) => {
    const app = makeTestApp();

    expectRefused(app, await postArchive(app, await makeTgz([MAIN]), query), 400, message);
  });

  it('answers 400 for returnFiles given twice in the query', async () => {
    const app = makeTestApp();

    const response = await request(app.app)
      .post(`/run?image=${BUSYBOX}&returnFiles=true&returnFiles=false`)
      .set('content-type', 'application/gzip')
      .send(await makeTgz([MAIN]));

    expectRefused(app, response, 400, 'returnFiles: expected true or false, got ["true","false"]');
  });

  it('answers 404 for an unknown image in the query', async () => {
    const app = makeTestApp();

    const response = await postArchive(app, await makeTgz([MAIN]), { image: 'alpine' });

    expectRefused(app, response, 404, `image "alpine" is not configured here; configured images: ${IMAGES}`);
  });

  it('answers 413 for an archive over bodyLimitBytes', async () => {
    const app = makeTestApp({ bodyLimitBytes: 1024 });
    const archive = Buffer.concat([await makeTgz([MAIN]), Buffer.alloc(2048)]);

    const response = await postArchive(app, archive, { image: BUSYBOX });

    expectRefused(app, response, 413, 'request body: expected at most 1024 bytes, got more');
  });
});
