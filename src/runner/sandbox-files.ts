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
  /** Every regular file met, by path: hard links in the tar point back to these. */
  const seen = new Map<string, { fingerprint: string; size: number }>();
  const changed: ChangedFile[] = [];
  /** Text of files left as they were, kept (within maxTotalBytes) only for hard links that name them. */
  const unchanged = new Map<string, { content: string | null; binary: boolean; truncated: boolean }>();
  let unchangedBytes = 0;
  let keptBytes = 0;
  let truncated = false;

  const take = (
    path: string,
    size: number,
    fingerprint: string,
    text: string | null,
    binary: boolean,
    cut: boolean,
  ) => {
    seen.set(path, { fingerprint, size });
    const previous = before.get(path);
    if (previous === fingerprint) return;

    const bytes = text === null ? 0 : Buffer.byteLength(text);
    if (changed.length >= limits.maxFiles || keptBytes + bytes > limits.maxTotalBytes) {
      truncated = true;
      return;
    }
    keptBytes += bytes;
    changed.push({
      path,
      change: previous === undefined ? 'created' : 'modified',
      size,
      content: text,
      truncated: cut,
      binary,
    });
  };

  const read = readTar(extract, limits.maxFileBytes, ({ name, type, size, head, fingerprint, linkname }) => {
    if (type === 'file') {
      const text = textOf(head, size > head.length);
      const cut = text !== null && size > head.length;
      if (before.get(name) === fingerprint && unchangedBytes + head.length <= limits.maxTotalBytes) {
        unchanged.set(name, { content: text, binary: text === null, truncated: cut });
        unchangedBytes += head.length;
      }
      take(name, size, fingerprint, text, text === null, cut);
      return;
    }
    // A second name of a file tar already wrote: same content, known by the first name.
    const targetPath = type === 'link' && linkname !== undefined ? normalize(linkname) : undefined;
    const target = targetPath !== undefined ? seen.get(targetPath) : undefined;
    if (!target || targetPath === undefined) return;
    const known = changed.find((file) => file.path === targetPath) ?? unchanged.get(targetPath);
    take(
      name,
      target.size,
      target.fingerprint,
      known?.content ?? null,
      known?.binary ?? false,
      known?.truncated ?? true,
    );
  });

  const result = read.then(() => ({
    changed: changed.sort((a, b) => a.path.localeCompare(b.path)),
    deleted: [...before.keys()].filter((path) => !seen.has(path)).sort(),
    truncated,
  }));
  // Handled here as well as by whoever awaits it, so a broken tar never counts as an unhandled rejection.
  result.catch(() => {});
  return {
    write: (chunk) => {
      extract.write(chunk);
    },
    end: () => {
      extract.end(Buffer.alloc(0));
    },
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
  /** For a hard link, the path it points to. */
  linkname?: string;
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
          name: normalize(header.name),
          type: header.type,
          size,
          head: Buffer.concat(chunks),
          fingerprint: hash.digest('hex'),
          linkname: header.linkname ?? undefined,
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
 * The head of a file as text, or null when it is binary: not valid UTF-8, or holding a NUL byte.
 * A head cut at the cap may end inside a character; those bytes (a lead byte and fewer
 * continuation bytes than it announces) are left off rather than shown as a replacement.
 */
function textOf(head: Buffer, cut: boolean): string | null {
  if (head.includes(0)) return null;
  const partial = cut ? partialCharacterBytes(head) : 0;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, head.length - partial));
  } catch {
    return null;
  }
}

/** How many bytes at the end of `head` are the start of a UTF-8 character cut short (0 to 3). */
function partialCharacterBytes(head: Buffer): number {
  for (let back = 1; back <= Math.min(3, head.length); back += 1) {
    const byte = head[head.length - back];
    if ((byte & 0xc0) === 0x80) continue;
    // Only 0xc2 to 0xf4 can start a character of two to four bytes; anything else is no partial one.
    const length = byte >= 0xf5 || byte < 0xc2 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return length > back ? back : 0;
  }
  return 0;
}

function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}
