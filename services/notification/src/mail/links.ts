/** A link in data that does not point into PUBLIC_BASE_URL. */
export class LinkError extends Error {}

/**
 * Every link in an email comes from configuration: `value` is either a path (`/verify-email?…`),
 * joined to PUBLIC_BASE_URL, or an absolute URL that must already lie under PUBLIC_BASE_URL.
 * Anything else (another host, `//host`, `/\host`, a path escaping the base path with `..`,
 * credentials in the URL) is refused, so a caller can never make us mail a foreign link.
 */
export function resolveLink(publicBaseUrl: string, value: string): string {
  const base = new URL(publicBaseUrl);
  const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  let url: URL;
  try {
    url = value.startsWith('/') ? new URL(`${basePath.slice(0, -1)}${value}`, base.origin) : new URL(value);
  } catch {
    throw new LinkError('link is not a valid URL or path');
  }
  if (url.origin !== base.origin || url.username || url.password) throw new LinkError('link must point to PUBLIC_BASE_URL');
  if (!`${url.pathname}/`.startsWith(basePath) && url.pathname !== base.pathname) throw new LinkError('link must point to PUBLIC_BASE_URL');
  return url.toString();
}
