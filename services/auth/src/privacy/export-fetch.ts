import { INTERNAL_TOKEN_HEADER } from '@imlab/http';

export interface ExportPart {
  /** file name inside the archive */
  name: string;
  bytes: Uint8Array;
}

/**
 * GET {base}/internal/users/:userId/export from another service (internal token). JSON becomes
 * `<label>.json`, a zip is nested as `<label>.zip`; anything else is kept as `<label>.bin`.
 */
export async function fetchExportPart(base: string, label: string, userId: string, internalToken: string, timeoutMs = 30_000): Promise<ExportPart> {
  const url = new URL(`/internal/users/${encodeURIComponent(userId)}/export`, base);
  const res = await fetch(url, { headers: { [INTERNAL_TOKEN_HEADER]: internalToken, accept: 'application/json, application/zip' }, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${label} export answered ${res.status}`);
  }
  const type = res.headers.get('content-type') ?? '';
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (type.includes('json')) {
    // re-indented so the person can read it; also proves it is JSON
    const pretty = JSON.stringify(JSON.parse(Buffer.from(bytes).toString('utf8')), null, 2);
    return { name: `${label}.json`, bytes: Buffer.from(pretty, 'utf8') };
  }
  if (type.includes('zip')) return { name: `${label}.zip`, bytes };
  return { name: `${label}.bin`, bytes };
}
