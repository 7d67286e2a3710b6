/**
 * Canonical form of a request path, computed before routing, so that every spelling of a route
 * reaches the same handler and the same rate-limit bucket, and no spelling reaches anything else.
 *
 * - percent-encoded unreserved characters are decoded (`%6c` → `l`, `%2e` → `.`), other escapes
 *   are upper-cased and kept;
 * - escapes that would change the structure downstream (`%2f` `/`, `%5c` `\`, `%3b` `;`, `%25` `%`
 *   i.e. double encoding, `%00`) and raw `\`, `;`, control characters are refused outright;
 * - runs of `/` collapse, `.` and `..` segments are resolved (`..` above the root is refused), and a
 *   trailing slash is dropped.
 */
export type NormalizedPath = { ok: true; path: string } | { ok: false; reason: string };

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const FORBIDDEN_DECODED = new Set(['/', '\\', ';', '%', '\0', '?', '#']);

/**
 * Already canonical: non-empty segments of plain characters (no `%`, `\`, `;`, controls), none of
 * them `.` or `..`. Nearly every request is spelled this way; it skips the character loop.
 */
const CANONICAL = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)+$/;

export function normalizePath(rawPath: string): NormalizedPath {
  return CANONICAL.test(rawPath) ? { ok: true, path: rawPath } : normalizeByRules(rawPath);
}

/** The rules above applied character by character (what the fast path must agree with). */
export function normalizeByRules(rawPath: string): NormalizedPath {
  if (!rawPath.startsWith('/')) return { ok: false, reason: 'path must start with /' };
  let decoded = '';
  for (let i = 0; i < rawPath.length; i++) {
    const ch = rawPath[i]!;
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) return { ok: false, reason: 'control character in path' };
    if (ch === '\\') return { ok: false, reason: 'backslash in path' };
    if (ch === ';') return { ok: false, reason: 'semicolon in path' };
    if (ch !== '%') {
      decoded += ch;
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, reason: 'malformed percent-encoding' };
    const c = String.fromCharCode(parseInt(hex, 16));
    if (FORBIDDEN_DECODED.has(c) || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f) {
      return { ok: false, reason: 'encoded separator or control character in path' };
    }
    decoded += UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
    i += 2;
  }
  const out: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return { ok: false, reason: 'path escapes the root' };
      out.pop();
      continue;
    }
    out.push(segment);
  }
  return { ok: true, path: `/${out.join('/')}` };
}

/** Splits a request target into path and query (`?` included), normalising the path. */
export function normalizeUrl(rawUrl: string): { ok: true; url: string; path: string } | { ok: false; reason: string } {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? '' : rawUrl.slice(q);
  if (rawPath.includes('#')) return { ok: false, reason: 'fragment in request target' };
  const n = normalizePath(rawPath);
  if (!n.ok) return n;
  return { ok: true, path: n.path, url: n.path + query };
}
