import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface ArchiveEntry {
  name: string;
  type?: tar.Header['type'];
  content?: string;
  mode?: number;
  linkname?: string;
}

/** A gzip'd tar holding exactly these entries, hostile ones included. */
export async function tgz(entries: ArchiveEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { name, type = 'file', content = '', mode, linkname } of entries) {
    if (type === 'file') pack.entry({ name, type, mode: mode ?? 0o644 }, content);
    else pack.entry({ name, type, mode, linkname });
  }
  pack.finalize();

  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

/** POST /run with a tar pipe body. */
export async function postArchive(
  url: string,
  query: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/run?${new URLSearchParams(query)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/gzip' },
    body,
  });
  return { status: response.status, body: await response.json() };
}
