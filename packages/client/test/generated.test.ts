import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { infra, testPrefix } from '@imlab/testing';
import { DOCUMENT_FILE, TYPES_FILE, generate } from '../scripts/generate.js';
import type * as ClientModule from '../src/index.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));

describe('the generated client', () => {
  it('is not stale: the document and types checked in are what the route schemas make now', async () => {
    const { redisUrl, databaseUrl } = infra();
    const { document, types } = await generate({ redisUrl, databaseUrl, queuePrefix: testPrefix('client-generate') });
    const hint = 'stale: run `pnpm run generate:client` and commit packages/client/openapi.json and src/api-types.ts';
    expect(readFileSync(DOCUMENT_FILE, 'utf8') === document, hint).toBe(true);
    expect(readFileSync(TYPES_FILE, 'utf8') === types, hint).toBe(true);
  }, 120_000);

  it('covers every operation of the document, and types no answer as unknown', () => {
    const doc = JSON.parse(readFileSync(DOCUMENT_FILE, 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const types = readFileSync(TYPES_FILE, 'utf8');
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId).filter(Boolean));
    expect(ids.length).toBeGreaterThan(40);
    for (const id of ids) expect(types, id).toContain(`    ${id}: {`);
    expect(types).not.toMatch(/content: \{\s*"application\/json": unknown;/);
  });

  it('builds to ESM with declarations, imports nothing of Node, and loads', async () => {
    const dist = `${pkg}dist`;
    rmSync(dist, { recursive: true, force: true });
    execFileSync(process.execPath, [fileURLToPath(import.meta.resolve('typescript/bin/tsc')), '-p', `${pkg}tsconfig.build.json`], { cwd: pkg, stdio: 'pipe' });
    expect(readdirSync(dist).sort()).toEqual(['api-types.d.ts', 'api-types.js', 'index.d.ts', 'index.js']);
    const js = readFileSync(`${dist}/index.js`, 'utf8');
    expect(js).not.toMatch(/from ['"]node:|require\(/);
    const manifest = JSON.parse(readFileSync(`${pkg}package.json`, 'utf8')) as { publishConfig: { exports: Record<string, { types: string; import: string }> } };
    expect(existsSync(`${pkg}${manifest.publishConfig.exports['.']!.import}`)).toBe(true);
    expect(existsSync(`${pkg}${manifest.publishConfig.exports['.']!.types}`)).toBe(true);
    const built = (await import(`${dist}/index.js`)) as typeof ClientModule;
    expect(typeof built.createApiClient({ baseUrl: 'http://localhost' }).GET).toBe('function');
  }, 120_000);
});
