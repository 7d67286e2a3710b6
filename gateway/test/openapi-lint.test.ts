// The merged OpenAPI document is the contract the web frontend generates its client from. It is
// built here from the real code — every service's Fastify app (its route schemas) merged by the
// gateway's mergeOpenApi — with no running stack, then linted by Redocly (`recommended`) and
// Spectral (`spectral:oas`) with the repository's redocly.yaml and .spectral.yaml, and turned into
// TypeScript by openapi-typescript. Any lint error or warning fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import openapiTS, { astToString } from 'openapi-typescript';
import { API_TAGS, isErrorCode, statusOf, type ErrorCode } from '@imlab/contracts';
import { infra, testPrefix } from '@imlab/testing';
import { buildMergedOpenApi } from './openapi-docs.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = (path: string) => fileURLToPath(new URL(`../node_modules/${path}`, import.meta.url));
/** Offline: no usage data, no update check. */
const TOOL_ENV = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
let doc: Json;
let dir: string;
let file: string;

beforeAll(async () => {
  const { redisUrl, databaseUrl } = infra();
  doc = await buildMergedOpenApi({ redisUrl, databaseUrl, queuePrefix: testPrefix('openapi') });
  dir = await mkdtemp(join(tmpdir(), 'imlab-openapi-lint-'));
  file = join(dir, 'openapi.json');
  await writeFile(file, JSON.stringify(doc, null, 2));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every operation with its method and path. */
function operations(): { method: string; path: string; op: Json }[] {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
      .map(([method, op]) => ({ method, path, op: op as Json })),
  );
}

/** A lint tool's output can be large: the problems are listed, not just counted. */
async function lintOutput(args: string[]): Promise<string> {
  // Both exit non-zero when they find errors; their JSON on stdout says what.
  const out = await run(process.execPath, args, { cwd: root, env: TOOL_ENV, maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout?: string; stderr?: string }) => {
    if (!err.stdout) throw err;
    return { stdout: err.stdout };
  });
  return out.stdout;
}

describe('the merged OpenAPI document', () => {
  it('passes Redocly (recommended, redocly.yaml) with no error and no warning', async () => {
    const out = await lintOutput([bin('@redocly/cli/bin/cli.js'), 'lint', file, '--config', join(root, 'redocly.yaml'), '--format', 'json']);
    const report = JSON.parse(out) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string; location: { pointer: string }[] }[] };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('passes Spectral (spectral:oas, .spectral.yaml) with no error and no warning', async () => {
    const out = await lintOutput([bin('@stoplight/spectral-cli/dist/index.js'), 'lint', file, '--ruleset', join(root, '.spectral.yaml'), '--format', 'json', '--quiet']);
    const results = JSON.parse(out.slice(out.indexOf('['))) as { code: string; message: string; path: string[] }[];
    expect(results.map((r) => `${r.code}: ${r.message} at ${r.path.join('.')}`)).toEqual([]);
  }, 60_000);

  it('turns into TypeScript with openapi-typescript, and the types compile', async () => {
    // silent: its own lint warnings are the Redocly ones judged above; its errors still throw.
    const source = astToString(await openapiTS(JSON.parse(await readFile(file, 'utf8')) as never, { silent: true }));
    for (const { op } of operations()) expect(source).toContain(`    ${op.operationId}: {`);
    const types = join(dir, 'api.ts');
    await writeFile(types, source);
    const program = ts.createProgram([types], { noEmit: true, strict: true, target: ts.ScriptTarget.ES2022, types: [] });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  }, 60_000);

  it('gives every operation a unique camelCase operationId, one described tag, a summary, a description and security', () => {
    const ids = operations().map(({ op }) => op.operationId as string);
    expect(ids.every((id) => /^[a-z][A-Za-z0-9]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Map((doc.tags as { name: string; description: string }[]).map((t) => [t.name, t.description]));
    expect([...tags.keys()]).toEqual(API_TAGS.map((t) => t.name));
    for (const { method, path, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.tags, where).toHaveLength(1);
      expect(tags.get(op.tags[0]), where).toBeTruthy();
      expect(op.summary, where).toBeTruthy();
      expect(op.description, where).toBeTruthy();
      expect(Array.isArray(op.security), where).toBe(true);
      // A session is required exactly where the description says so, and roles are named.
      const needsSession = op.security.length > 0 && !op.security.some((s: Json) => Object.keys(s).length === 0);
      expect(needsSession, where).toBe(/Needs a session/.test(op.description));
      if (path.startsWith('/v1/admin/')) expect(op.description, where).toMatch(/(`(finance|ops|moderator)` or )?`admin` role/);
    }
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: '__Host-imlab_sid' });
  });

  it('declares every error as application/problem+json pointing at the one Problem schema', () => {
    const responses = doc.components.responses as Json;
    let errorResponses = 0;
    for (const { method, path, op } of operations()) {
      for (const [status, answer] of Object.entries(op.responses as Json)) {
        if (Number(status) < 400) continue;
        const response = (answer.$ref ? responses[String(answer.$ref).split('/').pop()!] : answer) as Json;
        expect(response, `${method} ${path} ${status}`).toBeDefined();
        const schema = (response.content as Json)?.['application/problem+json']?.schema as Json;
        expect(Object.keys(response.content as Json), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        expect(schema.allOf[0], `${method} ${path} ${status}`).toEqual({ $ref: '#/components/schemas/Problem' });
        // the codes this operation answers with this status: registered ones, of this status
        const codes = schema.allOf[1].properties.code.enum as string[];
        expect(codes.length, `${method} ${path} ${status}`).toBeGreaterThan(0);
        for (const code of codes) {
          expect(isErrorCode(code), `${method} ${path} ${status}: ${code}`).toBe(true);
          expect(statusOf(code as ErrorCode), `${method} ${path} ${status}: ${code}`).toBe(Number(status));
          expect(response.description, `${method} ${path} ${status}`).toContain(`\`${code}\``);
        }
        expect(response.description, `${method} ${path} ${status}`).toMatch(/`[A-Z][A-Z0-9_]+`/);
        errorResponses++;
      }
    }
    expect(errorResponses).toBeGreaterThan(100);
    expect(doc.components.schemas.Problem.properties.code).toBeDefined();
  });

  it("adds the gateway's own answers where they can happen: rate limits and upstream failures everywhere, the CSRF refusal on writes", () => {
    for (const { method, path, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      for (const status of ['429', '502', '503', '504']) expect(op.responses[status], `${where} ${status}`).toBeDefined();
      const csrf = op.responses['403'] as Json | undefined;
      const refusesCrossSite = csrf?.$ref === '#/components/responses/GatewayCsrfRejected' || String(csrf?.description ?? '').includes('`GATEWAY_CSRF_REJECTED`');
      expect(refusesCrossSite, where).toBe(method !== 'get' && !path.includes('webhook'));
    }
    expect(doc.components.responses.RateLimited.headers).toHaveProperty('retry-after');
    // Where the service answers 429 itself, its response names the gateway's code too.
    expect(doc.paths['/v1/auth/login'].post.responses['429'].description).toBe('Too Many Requests: `AUTH_TOO_MANY_ATTEMPTS`. From the gateway: `RATE_LIMITED`.');
  });

  it('declares binary and streamed answers and the upload body as what they are', () => {
    const content = (path: string, method: string, status: string) => Object.keys(doc.paths[path][method].responses[status].content);
    expect(content('/v1/images/{id}', 'get', '200')).toEqual(['image/png']);
    expect(content('/v1/images/{id}/thumb', 'get', '200')).toEqual(['image/webp']);
    expect(content('/v1/me/exports/{id}/download', 'get', '200')).toEqual(['application/zip']);
    expect(content('/v1/generations/{id}/events', 'get', '200')).toEqual(['text/event-stream']);
    expect(doc.paths['/v1/generations/{id}/events'].get.description).toContain('`status`');
    expect(content('/v1/admin/ledger/export.csv', 'get', '200')).toEqual(['text/csv']);
    const upload = doc.paths['/v1/uploads'].post.requestBody;
    expect(Object.keys(upload.content)).toEqual(expect.arrayContaining(['image/png', 'image/jpeg', 'image/webp']));
    expect(upload.content['image/png'].schema).toMatchObject({ type: 'string', format: 'binary' });
    expect(doc.paths['/v1/uploads'].post.description).toMatch(/at most \d+ bytes/);
  });

  it('names and reuses component schemas, and gives the Google callback one parameter per query field', () => {
    const schemas = Object.keys(doc.components.schemas);
    expect(schemas).toEqual(expect.arrayContaining(['Problem', 'Account', 'Generation', 'Image', 'GenerationPage', 'Order', 'OrderPage', 'CreditBalance', 'CreditTransactionPage', 'Upload', 'Pricing']));
    expect(schemas.some((name) => name.startsWith('def-') || name.includes('.'))).toBe(false);
    const ok = (path: string, method: string) => Object.values(doc.paths[path][method].responses as Json).find((r: Json) => r.content?.['application/json'])?.content['application/json'].schema;
    expect(ok('/v1/generations/{id}', 'get')).toEqual({ $ref: '#/components/schemas/Generation' });
    expect(doc.components.schemas.Generation.properties.images.items).toEqual({ $ref: '#/components/schemas/Image' });
    const params = doc.paths['/v1/auth/google/callback'].get.parameters as Json[];
    expect(params.map((p) => p.name)).toEqual(expect.arrayContaining(['state', 'code', 'error']));
    for (const p of params) expect(p).toMatchObject({ in: 'query', schema: { type: 'string' } });
  });

  it('has examples on the main requests and answers, and info and servers for the deployment', () => {
    for (const name of ['SignupRequest', 'LoginRequest', 'Account', 'GenerationRequest', 'Generation', 'GenerationQuote', 'CheckoutRequest', 'CheckoutSession', 'Order', 'Pricing', 'CreditBalance', 'Upload']) {
      expect(doc.components.schemas[name].examples, name).toHaveLength(1);
    }
    expect(doc.info).toMatchObject({ description: expect.any(String), contact: expect.any(Object), license: expect.any(Object) });
    expect(doc.servers).toEqual([expect.objectContaining({ url: 'https://app.imagemakerlab.test' })]);
  });

  it('lists in docs/api.md exactly its routes', async () => {
    const served = operations()
      .map(({ method, path }) => `${method.toUpperCase()} ${path}`)
      .sort();
    const table = await readFile(join(root, 'docs/api.md'), 'utf8');
    const documented = [...table.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(documented).toEqual(served);
  });
});
