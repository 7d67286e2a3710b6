// What ships is built: scripts/build.ts compiles every entry point and deploys the production
// dependencies into .build/app — the folder the Docker image copies. This test builds it, checks
// what it holds, and runs a service (its migrations first) and the render worker from it with
// plain `node` in production mode until they answer ready.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort, infra, testPrefix } from '@imlab/testing';

const root = fileURLToPath(new URL('../..', import.meta.url));
const app = path.join(root, '.build/app');
const children: ChildProcess[] = [];

beforeAll(() => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}, 260_000);

afterAll(async () => {
  await Promise.all(
    children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => (c.once('exit', r), c.kill('SIGTERM'))))),
  );
});

describe('the production output', () => {
  it('holds every entry point the image, compose and Kubernetes run', () => {
    const entries = new Set<string>();
    entries.add(/^CMD \["([^"]+)"\]/m.exec(readFileSync(path.join(root, 'Dockerfile'), 'utf8'))![1]!);
    const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { build?: string; command?: string[] }> };
    for (const svc of Object.values(compose.services)) if (svc.build && svc.command) entries.add(svc.command[0]!);
    for (const file of readdirSync(path.join(root, 'k8s/base')).filter((f) => f.endsWith('.yaml'))) {
      for (const m of readFileSync(path.join(root, 'k8s/base', file), 'utf8').matchAll(/args: \["([^"]+)"/g)) entries.add(m[1]!);
    }
    expect(entries.size).toBeGreaterThan(10);
    for (const entry of entries) expect(existsSync(path.join(app, entry)), entry).toBe(true);
  });

  it('ships no TypeScript runtime, test tools or second Node binary', () => {
    const installed = readdirSync(path.join(app, 'node_modules/.pnpm'));
    for (const dev of ['node@', 'tsx@', 'typescript@', 'vitest@', 'esbuild@', 'eslint@', '@types+node@', 'testcontainers@']) {
      expect(installed.filter((d) => d.startsWith(dev)), dev).toEqual([]);
    }
    const pkg = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as { devDependencies?: unknown };
    expect(pkg.devDependencies ?? {}).toEqual({});
    // every migration is compiled (the runner reads the folder next to each service's entry)
    for (const service of ['auth', 'credits-ledger', 'generation', 'billing', 'notification']) {
      const src = readdirSync(path.join(root, 'services', service, 'migrations')).filter((f) => f.endsWith('.ts'));
      const out = readdirSync(path.join(app, 'dist/services', service, 'migrations')).filter((f) => f.endsWith('.js'));
      expect(out.map((f) => f.replace(/\.js$/, '')), service).toEqual(src.map((f) => f.replace(/\.ts$/, '')));
    }
  });

  it('holds the built web app the gateway serves (WEB_DIST_DIR in the image)', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENV WEB_DIST_DIR=\/app\/dist\/web$/m);
    const web = path.join(app, 'dist/web');
    const html = readFileSync(path.join(web, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script type="module"[^>]* src="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of scripts) {
      expect(existsSync(path.join(web, file)), file).toBe(true);
      expect(existsSync(path.join(web, `${file}.br`)), `${file}.br`).toBe(true);
    }
    // the sources and tooling of the web app are not shipped
    expect(readdirSync(path.join(app, 'node_modules/.pnpm')).filter((d) => /^(vite|react|@vitejs)@/.test(d))).toEqual([]);
  });

  it('runs a service (after its migrations) and the render worker with plain node, and they answer ready', async () => {
    const { databaseUrl, redisUrl } = infra();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'imlab-prod-'));
    const [ledgerPort, generationPort, workerPort] = [await freePort(), await freePort(), await freePort()];
    const ledgerDb = (await createTestDatabase('prod_ledger')).name;
    const generationDb = (await createTestDatabase('prod_generation')).name;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: testPrefix('prod'),
      PUBLIC_BASE_URL: 'https://app.imagemakerlab.test',
      AUTH_JWKS_URL: 'http://127.0.0.1:9/.well-known/jwks.json',
      INTERNAL_API_TOKEN: 'production-test-internal-token-0123456789abcdef',
      MESSAGE_SEAL_KEY: 'production-test-message-seal-key-0123456789abcdef',
      LEDGER_SEAL_SECRET: 'production-test-ledger-seal-secret-0123456789',
      STORAGE_DIR: path.join(dataDir, 'images'),
      IMAGE_PROVIDER: 'local',
      DB_POOL_SIZE: '2',
    };
    const logs: string[] = [];
    const node = (entry: string, extra: Record<string, string>) => {
      const child = spawn(process.execPath, [entry], { cwd: app, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d) => logs.push(String(d)));
      child.stderr!.on('data', (d) => logs.push(String(d)));
      return child;
    };
    const exitOf = (child: ChildProcess) => new Promise<number | null>((r) => child.once('exit', r));

    for (const [entry, db] of [
      ['dist/services/credits-ledger/src/migrate.js', ledgerDb],
      ['dist/services/generation/src/migrate.js', generationDb],
    ] as const) {
      const code = await exitOf(node(entry, { DATABASE_NAME: db }));
      expect(code, `${entry}: ${logs.slice(-5).join('')}`).toBe(0);
    }

    const ledger = node('dist/services/credits-ledger/src/main.js', { PORT: String(ledgerPort), METRICS_PORT: '0', DATABASE_NAME: ledgerDb });
    const worker = node('dist/services/generation/src/worker.js', { WORKER_PORT: String(workerPort), WORKER_METRICS_PORT: '0', PORT: String(generationPort), DATABASE_NAME: generationDb });
    children.push(ledger, worker);

    const ready = async (port: number) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (children.some((c) => c.exitCode !== null)) throw new Error(`a process exited: ${logs.slice(-8).join('')}`);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          if (res.ok) return (await res.json()) as { status: string };
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`not ready on ${port}: ${logs.slice(-8).join('')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    expect((await ready(ledgerPort)).status).toBe('ok');
    expect((await ready(workerPort)).status).toBe('ok');

    // The gateway from the build serves the built web app, as the image does (WEB_DIST_DIR).
    const gatewayPort = await freePort();
    const nowhere = 'http://127.0.0.1:9';
    const gateway = node('dist/gateway/src/main.js', {
      GATEWAY_PORT: String(gatewayPort),
      // its own internal metrics port: the default (9464) may be held by another gateway of the run
      METRICS_PORT: String(await freePort()),
      WEB_DIST_DIR: path.join(app, 'dist/web'),
      IP_HASH_SECRET: 'production-test-ip-hash-secret-0123456789',
      AUTH_URL: nowhere,
      LEDGER_URL: `http://127.0.0.1:${ledgerPort}`,
      GENERATION_URL: nowhere,
      BILLING_URL: nowhere,
      NOTIFICATION_URL: nowhere,
      RATE_LIMIT_PREFIX: `${testPrefix('prod')}:gw`,
    });
    children.push(gateway);
    expect((await ready(gatewayPort)).status).toBe('ok');
    // (fetch always says `Sec-Fetch-Mode: cors`, so it is not a page navigation: `/` is the page for any client)
    const page = await fetch(`http://127.0.0.1:${gatewayPort}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self';");
    const entry = /src="(\/assets\/[^"]+\.js)"/.exec(await page.text())![1]!;
    const asset = await fetch(`http://127.0.0.1:${gatewayPort}${entry}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');

    // plain node, compiled JavaScript: no TypeScript loader is in the process
    const stopped = [exitOf(ledger), exitOf(worker), exitOf(gateway)];
    ledger.kill('SIGTERM');
    worker.kill('SIGTERM');
    gateway.kill('SIGTERM');
    expect(await Promise.all(stopped)).toEqual([0, 0, 0]);
    expect(logs.join('')).not.toMatch(/tsx|\.ts:\d+/);
  }, 120_000);
});
