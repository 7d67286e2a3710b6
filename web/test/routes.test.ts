import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PAGE_PATHS } from '../src/app/paths.js';
import { WEB_DIR } from './build.js';

describe('the page addresses', () => {
  it('are the routes of the app (routes.tsx), each once: the manifest the gateway reads is complete', () => {
    // routes.tsx's paths are typed as PAGE_PATHS (or the catch-all): none can be missing from it;
    // this checks the other way round, that every listed address has its page.
    const source = readFileSync(path.join(WEB_DIR, 'src/app/routes.tsx'), 'utf8');
    const routed = [...source.matchAll(/\{ path: '([^']*)'/g)].map((m) => m[1]!);
    expect(routed.filter((p) => p !== '*').sort()).toEqual([...PAGE_PATHS].sort());
    expect(new Set(PAGE_PATHS).size).toBe(PAGE_PATHS.length);
    expect(routed.at(-1)).toBe('*');
  });
});
