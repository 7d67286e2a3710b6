import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from './build.js';

/** The JavaScript the first page load needs, gzipped: the entry chunk(s) index.html loads. */
const BUDGET_BYTES = 150 * 1024;

let dist: string;
beforeAll(async () => {
  dist = await ensureWebBuild();
}, 200_000);

/** Every script index.html loads itself: module entries and the chunks it preloads. */
function entryScripts(html: string): string[] {
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="\/([^"]+)"/g)].map((m) => m[1]!);
  const preloads = [...html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*\bhref="\/([^"]+)"/g)].map((m) => m[1]!);
  return [...new Set([...scripts, ...preloads])];
}

describe('the first page load', () => {
  it(`needs at most ${BUDGET_BYTES / 1024} KB of gzipped JavaScript`, () => {
    const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
    const files = entryScripts(html);
    expect(files.length).toBeGreaterThan(0);
    const sizes = files.map((f) => ({ file: f, gzip: gzipSync(readFileSync(path.join(dist, f))).length }));
    const total = sizes.reduce((n, s) => n + s.gzip, 0);
    expect(total, `entry JavaScript ${JSON.stringify(sizes)}`).toBeLessThanOrEqual(BUDGET_BYTES);
  });

  it('leaves the pages and their long texts to chunks of their own (route-level splitting)', () => {
    const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
    const entry = entryScripts(html)
      .map((f) => readFileSync(path.join(dist, f), 'utf8'))
      .join('\n');
    // texts only the privacy policy and the changelog carry, in both languages
    for (const phrase of ['Argon2id', 'Who else handles your data', '还有谁会处理你的数据', 'The workshop opens']) expect(entry, phrase).not.toContain(phrase);
    // no inline script in the page (the CSP allows none)
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });
});
