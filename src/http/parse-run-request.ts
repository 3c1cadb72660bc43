import type { Request } from 'express';
import type { PoolConfig, RunConfig } from '../config/config';
import { InvalidRequestError, UnknownImageError, UnsupportedMediaTypeError } from '../errors';
import { checkArchive, packRun } from '../runner/archive';
import type { RunRequest } from '../runner/run-types';

/** Content types taken as a gzip'd tar pipe. */
export const ARCHIVE_TYPES = ['application/gzip', 'application/x-gzip', 'application/x-tar+gzip'];

const JSON_FIELDS = ['image', 'main', 'files', 'maxSeconds', 'outputLimitBytes', 'encoding', 'returnFiles'];
const QUERY_FIELDS = ['image', 'maxSeconds', 'outputLimitBytes', 'encoding', 'returnFiles'];

/**
 * Turns a POST /run into a RunRequest, or throws a 4xx naming what is wrong. Everything is
 * checked here, before any container is taken.
 */
export async function parseRunRequest(req: Request, run: RunConfig, pools: readonly PoolConfig[]): Promise<RunRequest> {
  // By the Content-Type header alone: express's req.is() says nothing for a request without a body.
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return parseJsonRun(req.body, run, pools);
  if (ARCHIVE_TYPES.includes(type)) return parseArchiveRun(req.body, req.query, run, pools);
  throw new UnsupportedMediaTypeError(
    `expected Content-Type application/json or application/gzip, got ${req.headers['content-type'] ?? 'none'}`,
  );
}

async function parseJsonRun(body: unknown, run: RunConfig, pools: readonly PoolConfig[]): Promise<RunRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('expected a JSON object with "image" and "main"');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !JSON_FIELDS.includes(key));
  if (unknown !== undefined) {
    throw new InvalidRequestError(`${unknown}: unknown field; expected only ${JSON_FIELDS.join(', ')}`);
  }

  const pool = parsePool(fields.image, pools);
  if (typeof fields.main !== 'string') {
    throw new InvalidRequestError(`main: expected the text of /tmp/main.sh, got ${describe(fields.main)}`);
  }
  const files = parseFiles(fields.files);
  const settings = parseSettings(fields, run, pool);
  const archive = await packRun(fields.main, files, {
    maxEntries: run.archiveMaxEntries,
    maxBytes: run.archiveMaxBytes,
  });
  return { image: pool.image, archive, ...settings };
}

async function parseArchiveRun(
  body: unknown,
  query: Request['query'],
  run: RunConfig,
  pools: readonly PoolConfig[],
): Promise<RunRequest> {
  const unknown = Object.keys(query).find((key) => !QUERY_FIELDS.includes(key));
  if (unknown !== undefined) {
    throw new InvalidRequestError(`${unknown}: unknown query parameter; expected only ${QUERY_FIELDS.join(', ')}`);
  }
  const pool = parsePool(query.image, pools);
  const settings = parseSettings(
    {
      maxSeconds: numberFromQuery(query.maxSeconds, 'maxSeconds'),
      outputLimitBytes: numberFromQuery(query.outputLimitBytes, 'outputLimitBytes'),
      encoding: query.encoding,
      returnFiles: booleanFromQuery(query.returnFiles, 'returnFiles'),
    },
    run,
    pool,
  );

  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw new InvalidRequestError("expected a gzip'd tar archive as the request body, got an empty body");
  }
  const archive = await checkArchive(body, { maxEntries: run.archiveMaxEntries, maxBytes: run.archiveMaxBytes });
  return { image: pool.image, archive, ...settings };
}

function parsePool(value: unknown, pools: readonly PoolConfig[]): PoolConfig {
  const images = pools.map((pool) => pool.image);
  if (typeof value !== 'string' || value === '') {
    throw new InvalidRequestError(`image: expected one of ${images.join(', ')}, got ${describe(value)}`);
  }
  const pool = pools.find((candidate) => candidate.image === value);
  if (!pool) throw new UnknownImageError(value, images);
  return pool;
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

type Settings = Pick<RunRequest, 'maxSeconds' | 'outputLimitBytes' | 'encoding' | 'returnFiles'>;

function parseSettings(fields: Record<string, unknown>, run: RunConfig, pool: PoolConfig): Settings {
  const {
    maxSeconds = run.defaultMaxSeconds,
    outputLimitBytes = pool.outputLimitBytes,
    encoding = 'utf8',
    returnFiles = run.returnFiles,
  } = fields;

  if (
    typeof maxSeconds !== 'number' ||
    !Number.isFinite(maxSeconds) ||
    maxSeconds <= 0 ||
    maxSeconds > run.maxSecondsCeiling
  ) {
    throw new InvalidRequestError(
      `maxSeconds: expected a number of seconds above 0 and at most ${run.maxSecondsCeiling}, got ${describe(maxSeconds)}`,
    );
  }
  if (
    typeof outputLimitBytes !== 'number' ||
    !Number.isInteger(outputLimitBytes) ||
    outputLimitBytes < 0 ||
    outputLimitBytes > run.outputLimitCeilingBytes
  ) {
    throw new InvalidRequestError(
      `outputLimitBytes: expected a whole number of bytes from 0 to ${run.outputLimitCeilingBytes}, got ${describe(outputLimitBytes)}`,
    );
  }
  if (encoding !== 'utf8' && encoding !== 'base64') {
    throw new InvalidRequestError(`encoding: expected "utf8" or "base64", got ${describe(encoding)}`);
  }
  if (typeof returnFiles !== 'boolean') {
    throw new InvalidRequestError(`returnFiles: expected true or false, got ${describe(returnFiles)}`);
  }
  return { maxSeconds, outputLimitBytes, encoding, returnFiles };
}

function numberFromQuery(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (Number.isNaN(parsed)) throw new InvalidRequestError(`${field}: expected a number, got ${describe(value)}`);
  return parsed;
}

function booleanFromQuery(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidRequestError(`${field}: expected true or false, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = typeof value === 'string' ? `"${value}"` : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
