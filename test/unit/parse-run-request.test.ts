import request from 'supertest';
import { makeTgz, readTgz, type TestEntry } from './support/tgz';
import { makeTestApp, RESULT } from './support/test-app';

const BUSYBOX = 'warmpool-test/busybox';
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
  return request(app.app).post('/run').send(body as object);
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
      image: BUSYBOX, archive: expect.any(Buffer), maxSeconds: 10, outputLimitBytes: 1024 * 1024, encoding: 'utf8',
    });
    expect(signal).toBeInstanceOf(AbortSignal);
    const entries = await readTgz(runRequest.archive);
    expect(entries.map((entry) => [entry.name, entry.content.toString()])).toEqual([
      ['tmp/main.sh', 'cat data.txt'],
      ['sandbox/data.txt', 'x'],
    ]);
  });

  it('takes maxSeconds, outputLimitBytes and encoding when given', async () => {
    const app = makeTestApp();

    await postJson(app, { image: BUSYBOX, main: 'true', maxSeconds: 0.5, outputLimitBytes: 0, encoding: 'base64' });

    expect(app.run.mock.calls[0][0]).toMatchObject({ maxSeconds: 0.5, outputLimitBytes: 0, encoding: 'base64' });
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
    ['a main that is not text', { image: BUSYBOX, main: ['echo'] },
      'main: expected the text of /tmp/main.sh, got ["echo"]'],
    ['an unknown field', { image: BUSYBOX, main: 'true', timeout: 5 },
      'timeout: unknown field; expected only image, main, files, maxSeconds, outputLimitBytes, encoding'],
    ['files that are not an object', { image: BUSYBOX, main: 'true', files: ['a.txt'] },
      'files: expected an object of relative path to text, got ["a.txt"]'],
    ['a file that is not text', { image: BUSYBOX, main: 'true', files: { 'a.txt': 5 } },
      'files["a.txt"]: expected text, got 5'],
    ['a file path climbing out', { image: BUSYBOX, main: 'true', files: { '../etc/passwd': 'x' } },
      'files["../etc/passwd"]: expected a path without "..", "." or empty segments'],
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

    expectRefused(app, response, 400, 'outputLimitBytes: expected a whole number of bytes from 0 to 16777216, '
      + `got ${JSON.stringify(outputLimitBytes)}`);
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

describe('POST /run as a gzip\'d tar', () => {
  it('hands the runner the archive as sent, with settings from the query', async () => {
    const app = makeTestApp();
    const archive = await makeTgz([MAIN, { name: 'sandbox/data.txt', content: 'x' }]);

    const query = { image: BUSYBOX, maxSeconds: '2.5', outputLimitBytes: '100', encoding: 'base64' };
    const response = await postArchive(app, archive, query);

    expect(response.status).toBe(200);
    expect(app.run).toHaveBeenCalledTimes(1);
    expect(app.run.mock.calls[0][0]).toEqual({
      image: BUSYBOX, archive, maxSeconds: 2.5, outputLimitBytes: 100, encoding: 'base64',
    });
  });

  it.each(['application/x-gzip', 'application/x-tar+gzip'])('takes the content type %s too', async (type) => {
    const app = makeTestApp();

    const response = await postArchive(app, await makeTgz([MAIN]), { image: BUSYBOX }, type);

    expect(response.status).toBe(200);
    expect(app.run.mock.calls[0][0])
      .toMatchObject({ maxSeconds: 10, outputLimitBytes: 1024 * 1024, encoding: 'utf8' });
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

    expectRefused(app, response, 400, 'expected a gzip\'d tar archive as the request body, got an empty body');
  });

  it.each<[string, Record<string, string>, string]>([
    ['a missing image', {}, `image: expected one of ${IMAGES}, got nothing`],
    ['maxSeconds that is not a number', { image: BUSYBOX, maxSeconds: 'abc' },
      'maxSeconds: expected a number, got "abc"'],
    ['maxSeconds of 0', { image: BUSYBOX, maxSeconds: '0' },
      'maxSeconds: expected a number of seconds above 0 and at most 60, got 0'],
    ['maxSeconds above the ceiling', { image: BUSYBOX, maxSeconds: '61' },
      'maxSeconds: expected a number of seconds above 0 and at most 60, got 61'],
    ['an empty outputLimitBytes', { image: BUSYBOX, outputLimitBytes: '' },
      'outputLimitBytes: expected a number, got ""'],
    ['a fractional outputLimitBytes', { image: BUSYBOX, outputLimitBytes: '1.5' },
      'outputLimitBytes: expected a whole number of bytes from 0 to 16777216, got 1.5'],
    ['an unknown encoding', { image: BUSYBOX, encoding: 'latin1' },
      'encoding: expected "utf8" or "base64", got "latin1"'],
  ])('answers 400 for %s in the query', async (_what, query, message) => {
    const app = makeTestApp();

    expectRefused(app, await postArchive(app, await makeTgz([MAIN]), query), 400, message);
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
