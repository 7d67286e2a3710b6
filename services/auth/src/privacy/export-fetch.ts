import { INTERNAL_TOKEN_HEADER } from '@imlab/http';

export interface Fetched {
  contentType: string;
  bytes: Uint8Array;
}

/** GET {base}{path} from another service with auth's service token for it; non-2xx is an error. */
export async function fetchInternal(base: string, path: string, serviceToken: string, timeoutMs = 30_000): Promise<Fetched> {
  const url = new URL(path, base);
  const res = await fetch(url, { headers: { [INTERNAL_TOKEN_HEADER]: serviceToken }, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${url.pathname} answered ${res.status}`);
  }
  return { contentType: res.headers.get('content-type') ?? '', bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** A service's part of the export: GET /internal/users/:userId/export, JSON. */
export async function fetchUserExport(base: string, userId: string, serviceToken: string): Promise<unknown> {
  const { contentType, bytes } = await fetchInternal(base, `/internal/users/${encodeURIComponent(userId)}/export`, serviceToken);
  if (!contentType.includes('json')) throw new Error(`export from ${new URL(base).host} is not JSON (${contentType || 'no content type'})`);
  return JSON.parse(Buffer.from(bytes).toString('utf8'));
}

const EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif', 'image/avif': 'avif' };

/**
 * Generation's export names each stored file by an internal URL (`/internal/images/:id/original`,
 * `/internal/uploads/:id`). Those mean nothing to the person, so each one is fetched, added to
 * the archive, and the entry points to its file there instead (`images/<id>.png`).
 */
export async function inlineInternalFiles(
  node: unknown,
  fetchFile: (path: string) => Promise<Fetched>,
  add: (name: string, bytes: Uint8Array) => void,
): Promise<void> {
  if (Array.isArray(node)) {
    for (const item of node) await inlineInternalFiles(item, fetchFile, add);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  if (typeof obj.url === 'string' && obj.url.startsWith('/internal/')) {
    const folder = obj.url.startsWith('/internal/uploads/') ? 'uploads' : 'images';
    const id = typeof obj.id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(obj.id) ? obj.id : `${folder}-${Math.random().toString(36).slice(2, 10)}`;
    const file = await fetchFile(obj.url);
    const name = `${folder}/${id}.${EXTENSIONS[file.contentType.split(';')[0]!.trim()] ?? 'bin'}`;
    add(name, file.bytes);
    obj.file = name;
    delete obj.url;
    if (typeof obj.thumbUrl === 'string' && obj.thumbUrl.startsWith('/internal/')) delete obj.thumbUrl;
  }
  for (const value of Object.values(obj)) await inlineInternalFiles(value, fetchFile, add);
}
