import { createHash } from 'node:crypto';
import tar from 'tar-stream';

/** A file under /sandbox that the run created or changed. */
export interface ChangedFile {
  /** Relative to /sandbox. */
  path: string;
  change: 'created' | 'modified';
  size: number;
  /** The text, cut at the per-file cap; null for a binary file. */
  content: string | null;
  truncated: boolean;
  binary: boolean;
}

export interface FilesOut {
  changed: ChangedFile[];
  /** Paths the run was given that are gone afterwards. */
  deleted: string[];
  /** Whether the caps on count or total size left some changed files out. */
  truncated: boolean;
}

export interface FilesOutLimits {
  maxFiles: number;
  maxFileBytes: number;
  maxTotalBytes: number;
}

/** Fingerprints of the files a run's tar gives under sandbox/: the "before" to compare with. */
export async function sandboxFingerprints(archive: Buffer): Promise<Map<string, string>> {
  const fingerprints = new Map<string, string>();
  const extract = tar.extract();
  const read = readTar(extract, 0, (entry) => {
    if (entry.type === 'file' && entry.name.startsWith('sandbox/')) {
      fingerprints.set(entry.name.slice('sandbox/'.length), entry.fingerprint);
    }
  });
  extract.end(archive);
  await read;
  return fingerprints;
}

/**
 * Reads the tar of /sandbox that the container writes after a run, as a stream and without
 * touching the host's disk, and compares it with what the run was given. Only regular files count;
 * links and folders are passed over. Feed the tar's bytes to `write`, then call `end`.
 */
export function compareSandbox(before: Map<string, string>, limits: FilesOutLimits): SandboxComparison {
  const extract = tar.extract();
  const seen = new Set<string>();
  const changed: ChangedFile[] = [];
  let keptBytes = 0;
  let truncated = false;

  const read = readTar(extract, limits.maxFileBytes, ({ name, type, size, head, fingerprint }) => {
    if (type !== 'file') return;
    seen.add(name);
    const previous = before.get(name);
    if (previous === fingerprint) return;

    if (changed.length >= limits.maxFiles || keptBytes + head.length > limits.maxTotalBytes) {
      truncated = true;
      return;
    }
    const binary = !isText(head, size > head.length);
    keptBytes += binary ? 0 : head.length;
    changed.push({
      path: name,
      change: previous === undefined ? 'created' : 'modified',
      size,
      content: binary ? null : head.toString('utf8'),
      truncated: !binary && size > head.length,
      binary,
    });
  });

  const result = read.then(() => ({
    changed: changed.sort((a, b) => a.path.localeCompare(b.path)),
    deleted: [...before.keys()].filter((path) => !seen.has(path)).sort(),
    truncated,
  }));
  return {
    write: (chunk) => { extract.write(chunk); },
    end: () => { extract.end(Buffer.alloc(0)); },
    result,
  };
}

export interface SandboxComparison {
  write(chunk: Buffer): void;
  end(): void;
  result: Promise<FilesOut>;
}

interface TarEntry {
  name: string;
  type: tar.Header['type'];
  size: number;
  /** The first bytes of the content, up to the number asked for. */
  head: Buffer;
  /** sha256 of the whole content. */
  fingerprint: string;
}

/** Walks a tar stream entry by entry, keeping at most `headBytes` of each in memory. */
function readTar(extract: tar.Extract, headBytes: number, onEntry: (entry: TarEntry) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let kept = 0;
      let size = 0;
      stream.on('data', (data: unknown) => {
        const chunk = data as Buffer;
        hash.update(chunk);
        size += chunk.length;
        if (kept >= headBytes) return;
        const part = Buffer.from(chunk.subarray(0, headBytes - kept));
        chunks.push(part);
        kept += part.length;
      });
      stream.on('end', () => {
        onEntry({
          name: normalize(header.name), type: header.type, size, head: Buffer.concat(chunks), fingerprint: hash.digest('hex'),
        });
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
}

/**
 * Text means valid UTF-8 without NUL bytes. A head cut at the cap may end inside a character,
 * so up to three trailing bytes may be left out of the check when the file is longer.
 */
function isText(head: Buffer, cut: boolean): boolean {
  if (head.includes(0)) return false;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let dropped = 0; dropped <= (cut ? 3 : 0); dropped += 1) {
    try {
      decoder.decode(head.subarray(0, head.length - dropped));
      return true;
    } catch {
      // try again without one more trailing byte
    }
  }
  return false;
}

function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}
