import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';

/**
 * Streams a zip to `path` entry by entry, so an export with many images never sits in memory
 * whole. Images are stored as they are (already compressed); text is deflated.
 */
export function createZipFile(path: string) {
  const out = createWriteStream(path, { mode: 0o600 });
  let failure: Error | undefined;
  const zip = new Zip((err, chunk, final) => {
    if (err) {
      failure = err;
      out.destroy(err);
      return;
    }
    out.write(chunk);
    if (final) out.end();
  });
  out.on('error', (err) => (failure ??= err));
  let bytes = 0;
  return {
    add(name: string, data: Uint8Array, compress = false): void {
      if (failure) throw failure;
      const entry = compress ? new ZipDeflate(name, { level: 6 }) : new ZipPassThrough(name);
      zip.add(entry);
      entry.push(data, true);
      bytes += data.byteLength;
    },
    async finish(): Promise<number> {
      zip.end();
      if (!out.writableFinished) await once(out, 'finish');
      if (failure) throw failure;
      return bytes;
    },
    abort(): void {
      zip.terminate();
      out.destroy();
    },
  };
}
