import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tar from 'tar-stream';

export interface TestEntry {
  name: string;
  type?: tar.Header['type'];
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
}

export interface ReadEntry {
  name: string;
  type: tar.Header['type'];
  mode: number | undefined;
  content: Buffer;
}

/** Builds a gzip'd tar from entries exactly as given, bad ones included. */
export async function makeTgz(entries: TestEntry[]): Promise<Buffer> {
  return zlib.gzipSync(await makeTar(entries));
}

/** Builds a plain tar, as `tar -cf -` writes one, from entries exactly as given. */
export async function makeTar(entries: TestEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) {
    const { name, type = 'file', mode, linkname, content = '' } = entry;
    if (type === 'file') pack.entry({ name, type, mode }, content);
    else pack.entry({ name, type, mode, linkname });
  }
  pack.finalize();

  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads every entry of a gzip'd tar back, content included. */
export function readTgz(archive: Buffer): Promise<ReadEntry[]> {
  return readTar(zlib.gunzipSync(archive));
}

/** Reads every entry of a plain tar back, content included. */
export async function readTar(archive: Buffer): Promise<ReadEntry[]> {
  const extract = tar.extract();
  const entries: ReadEntry[] = [];

  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        entries.push({ name: header.name, type: header.type, mode: header.mode, content: Buffer.concat(chunks) });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([archive]).pipe(extract);

  await done;
  return entries;
}
