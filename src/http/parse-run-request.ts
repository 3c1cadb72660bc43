import type { Request } from 'express';
import type { RunConfig } from '../config/config';
import { InvalidRequestError, UnknownImageError, UnsupportedMediaTypeError } from '../errors';
import { checkArchive, packRun } from '../runner/archive';
import type { RunRequest } from '../runner/run-types';

/** Content types taken as a gzip'd tar pipe. */
export const ARCHIVE_TYPES = ['application/gzip', 'application/x-gzip', 'application/x-tar+gzip'];

const JSON_FIELDS = ['image', 'main', 'files', 'maxSeconds', 'outputLimitBytes', 'encoding'];

/**
 * Turns a POST /run into a RunRequest, or throws a 4xx naming what is wrong. Everything is
 * checked here, before any container is taken.
 */
export async function parseRunRequest(req: Request, run: RunConfig, images: readonly string[]): Promise<RunRequest> {
  if (req.is('application/json')) return parseJsonRun(req.body, run, images);
  if (req.is(ARCHIVE_TYPES)) return parseArchiveRun(req.body, req.query, run, images);
  throw new UnsupportedMediaTypeError(
    `expected Content-Type application/json or application/gzip, got ${req.headers['content-type'] ?? 'none'}`,
  );
}

async function parseJsonRun(body: unknown, run: RunConfig, images: readonly string[]): Promise<RunRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('expected a JSON object with "image" and "main"');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !JSON_FIELDS.includes(key));
  if (unknown !== undefined) {
    throw new InvalidRequestError(`${unknown}: unknown field; expected only ${JSON_FIELDS.join(', ')}`);
  }

  const image = parseImage(fields.image, images);
  if (typeof fields.main !== 'string') {
    throw new InvalidRequestError(`main: expected the text of /tmp/main.sh, got ${describe(fields.main)}`);
  }
  const files = parseFiles(fields.files);
  const settings = parseSettings(fields, run);
  const archive = await packRun(fields.main, files, { maxEntries: run.archiveMaxEntries, maxBytes: run.archiveMaxBytes });
  return { image, archive, ...settings };
}

async function parseArchiveRun(body: unknown, query: Request['query'], run: RunConfig, images: readonly string[]): Promise<RunRequest> {
  const image = parseImage(query.image, images);
  const settings = parseSettings({
    maxSeconds: numberFromQuery(query.maxSeconds, 'maxSeconds'),
    outputLimitBytes: numberFromQuery(query.outputLimitBytes, 'outputLimitBytes'),
    encoding: query.encoding,
  }, run);

  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw new InvalidRequestError('expected a gzip\'d tar archive as the request body, got an empty body');
  }
  await checkArchive(body, { maxEntries: run.archiveMaxEntries, maxBytes: run.archiveMaxBytes });
  return { image, archive: body, ...settings };
}

function parseImage(value: unknown, images: readonly string[]): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidRequestError(`image: expected one of ${images.join(', ')}, got ${describe(value)}`);
  }
  if (!images.includes(value)) throw new UnknownImageError(value, images);
  return value;
}

function parseFiles(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequestError(`files: expected an object of relative path to text, got ${describe(value)}`);
  }
  for (const [path, content] of Object.entries(value)) {
    if (typeof content !== 'string') {
      throw new InvalidRequestError(`files["${path}"]: expected text, got ${describe(content)}`);
    }
  }
  return value as Record<string, string>;
}

function parseSettings(fields: Record<string, unknown>, run: RunConfig): Pick<RunRequest, 'maxSeconds' | 'outputLimitBytes' | 'encoding'> {
  const { maxSeconds = run.defaultMaxSeconds, outputLimitBytes = run.outputLimitBytes, encoding = 'utf8' } = fields;

  if (typeof maxSeconds !== 'number' || !Number.isFinite(maxSeconds) || maxSeconds <= 0 || maxSeconds > run.maxSecondsCeiling) {
    throw new InvalidRequestError(
      `maxSeconds: expected a number of seconds above 0 and at most ${run.maxSecondsCeiling}, got ${describe(maxSeconds)}`,
    );
  }
  if (typeof outputLimitBytes !== 'number' || !Number.isInteger(outputLimitBytes) || outputLimitBytes < 0
    || outputLimitBytes > run.outputLimitCeilingBytes) {
    throw new InvalidRequestError(
      `outputLimitBytes: expected a whole number of bytes from 0 to ${run.outputLimitCeilingBytes}, got ${describe(outputLimitBytes)}`,
    );
  }
  if (encoding !== 'utf8' && encoding !== 'base64') {
    throw new InvalidRequestError(`encoding: expected "utf8" or "base64", got ${describe(encoding)}`);
  }
  return { maxSeconds, outputLimitBytes, encoding };
}

function numberFromQuery(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (Number.isNaN(parsed)) throw new InvalidRequestError(`${field}: expected a number, got ${describe(value)}`);
  return parsed;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = typeof value === 'string' ? `"${value}"` : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
