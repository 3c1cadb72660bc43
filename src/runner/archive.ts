import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { InvalidRequestError } from '../errors';

export interface ArchiveLimits {
  maxEntries: number;
  /** Most bytes of file content, unpacked. */
  maxBytes: number;
}

/** The folders a run's archive may write into; everything else in the container is read-only. */
const ALLOWED_ROOTS = ['tmp', 'sandbox'];

/**
 * Packs a JSON run into the tar a container unpacks at /: `main` becomes tmp/main.sh
 * (executable) and each file lands under sandbox/. Paths are checked first, so a bad one costs
 * no container. The tar is not compressed: it only crosses a local socket, and the container then
 * needs a tar that reads plain archives, nothing more.
 */
export async function packRun(main: string, files: Record<string, string>, limits: ArchiveLimits): Promise<Buffer> {
  const entries: Array<{ name: string; content: Buffer; mode: number }> = [
    { name: 'tmp/main.sh', content: Buffer.from(main, 'utf8'), mode: 0o755 },
  ];
  for (const [path, content] of Object.entries(files)) {
    entries.push({
      name: `sandbox/${checkRelativePath(path, `files["${path}"]`)}`,
      content: Buffer.from(content, 'utf8'),
      mode: 0o644,
    });
  }
  rejectFileUnderFile(Object.keys(files), (path) => `files["${path}"]`);

  const total = entries.reduce((sum, entry) => sum + entry.content.length, 0);
  if (entries.length > limits.maxEntries) {
    throw new InvalidRequestError(
      `files: expected at most ${limits.maxEntries - 1} file(s), got ${entries.length - 1}`,
    );
  }
  if (total > limits.maxBytes) {
    throw new InvalidRequestError(`files: expected at most ${limits.maxBytes} bytes of content in all, got ${total}`);
  }

  const pack = tar.pack();
  const mtime = new Date();
  for (const entry of entries) {
    pack.entry({ name: entry.name, mode: entry.mode, mtime, type: 'file' }, entry.content);
  }
  pack.finalize();
  return collect(pack);
}

/**
 * Reads a caller's tgz as a stream, without extracting it anywhere, and rejects anything that
 * could write outside tmp/ and sandbox/ or smuggle in links or devices. The error names the
 * offending entry. Returns the archive unzipped, as the container takes it: the host never
 * unpacks a caller's archive; the container does.
 */
export async function checkArchive(archive: Buffer, limits: ArchiveLimits): Promise<Buffer> {
  const extract = tar.extract();
  let entries = 0;
  let bytes = 0;
  let hasMain = false;
  const files: string[] = [];

  const checked = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const problem = entryProblem(header);
      if (problem) {
        reject(new InvalidRequestError(`archive entry "${header.name}": ${problem}`));
        extract.destroy();
        return;
      }

      entries += 1;
      bytes += header.size ?? 0;
      if (header.type === 'file') files.push(normalize(header.name));
      if (normalize(header.name) === 'tmp/main.sh' && header.type === 'file') hasMain = true;
      if (entries > limits.maxEntries) {
        reject(new InvalidRequestError(`archive: expected at most ${limits.maxEntries} entries, got more`));
        extract.destroy();
        return;
      }
      if (bytes > limits.maxBytes) {
        reject(
          new InvalidRequestError(
            `archive: expected at most ${limits.maxBytes} bytes of content, ` + `got more by entry "${header.name}"`,
          ),
        );
        extract.destroy();
        return;
      }
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', (error) =>
      reject(new InvalidRequestError(`archive: not a valid tar archive: ${error.message}`)),
    );
  });

  // Tar adds a 512-byte header per entry and pads; anything far past that is a decompression bomb.
  const maxUnpackedBytes = limits.maxBytes + (limits.maxEntries + 1) * 1024 + 64 * 1024;
  let unpackedBytes = 0;
  const unzippedChunks: Buffer[] = [];
  const gunzip = zlib.createGunzip();
  const unzipped = new Promise<void>((resolve, reject) => {
    gunzip.on('error', (error) => reject(new InvalidRequestError(`archive: not valid gzip data: ${error.message}`)));
    gunzip.on('data', (chunk: Buffer) => {
      unpackedBytes += chunk.length;
      unzippedChunks.push(chunk);
      if (unpackedBytes <= maxUnpackedBytes) return;
      reject(new InvalidRequestError(`archive: expected at most ${maxUnpackedBytes} bytes once unzipped, got more`));
      gunzip.destroy();
      extract.destroy();
    });
    gunzip.on('end', resolve);
  });
  Readable.from([archive]).pipe(gunzip).pipe(extract);

  await Promise.all([checked, unzipped]);
  if (!hasMain) throw new InvalidRequestError('archive: expected an entry tmp/main.sh, the program to run');
  rejectFileUnderFile(files, (path) => `archive entry "${path}"`);
  return Buffer.concat(unzippedChunks);
}

function entryProblem(header: tar.Header): string | undefined {
  if (header.type !== 'file' && header.type !== 'directory') {
    return `expected a file or directory, got a ${header.type ?? 'entry of unknown type'}`;
  }
  if (header.name.startsWith('/')) return 'expected a relative path, got an absolute one';
  const path = normalize(header.name);
  if (path === '' || path === '.') {
    return (
      "expected only entries under tmp/ and sandbox/; an entry for the archive's own root would change /. " +
      'Make the archive with `tar -czf - tmp sandbox` rather than `tar -czf - .`'
    );
  }
  if (path.split('/').includes('..')) return 'expected a path without ".." segments';
  if (path.includes('\0')) return 'expected a path without NUL bytes';
  const segments = path.split('/');
  if (!ALLOWED_ROOTS.includes(segments[0]) || (header.type === 'file' && segments.length < 2)) {
    return 'expected a path under tmp/ or sandbox/';
  }
  return undefined;
}

/** Drops a leading "./" and trailing "/", as tar writes them both ways. */
function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

/** A path cannot be a file and a folder at once: "a" and "a/b" together could never unpack. */
function rejectFileUnderFile(paths: string[], field: (path: string) => string): void {
  const files = new Set(paths);
  for (const path of paths) {
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth += 1) {
      const folder = segments.slice(0, depth).join('/');
      if (files.has(folder)) {
        throw new InvalidRequestError(
          `${field(path)}: expected "${folder}" to be a folder, but it is also given as a file`,
        );
      }
    }
  }
}

/** Checks a path given for a file under /sandbox and returns it tidied. */
export function checkRelativePath(path: string, field: string): string {
  if (path === '' || path.length > 1024)
    throw new InvalidRequestError(`${field}: expected a path of 1 to 1024 characters`);
  if (path.startsWith('/')) throw new InvalidRequestError(`${field}: expected a relative path, got an absolute one`);
  if (path.includes('\0')) throw new InvalidRequestError(`${field}: expected a path without NUL bytes`);
  const segments = path.split('/');
  if (segments.some((segment) => segment === '..' || segment === '.' || segment === '')) {
    throw new InvalidRequestError(`${field}: expected a path without "..", "." or empty segments`);
  }
  return path;
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
