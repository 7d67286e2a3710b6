// Every process refuses to start on bad configuration with one message naming every bad
// variable, and on a Redis that could evict queued jobs.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, TS_NODE_ARGS } from '@imlab/testing';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ENTRIES = {
  auth: 'services/auth/src/main.ts',
  'credits-ledger': 'services/credits-ledger/src/main.ts',
  generation: 'services/generation/src/main.ts',
  'render-worker': 'services/generation/src/worker.ts',
  billing: 'services/billing/src/main.ts',
  notification: 'services/notification/src/main.ts',
  gateway: 'gateway/src/main.ts',
};

function run(entry: string, env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...TS_NODE_ARGS, entry], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += String(d)));
    child.stderr.on('data', (d) => (output += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('start-up configuration', () => {
  it.each(Object.entries(ENTRIES))('%s names every bad variable in one error and exits', async (name, entry) => {
    const { code, output } = await run(entry, { NODE_ENV: 'production', REDIS_URL: 'not a url', PORT: 'eighty', GATEWAY_PORT: 'eighty' });
    expect(code).not.toBe(0);
    expect(output).toMatch(/invalid configuration \(\d+ problems?\)/);
    // the common ones every process reads, reported together with the malformed value
    expect(output).toContain('REDIS_URL');
    if (name !== 'gateway') expect(output).toContain('DATABASE_URL');
    expect(output).toMatch(/PORT/);
    expect(output.match(/invalid configuration/g)).toHaveLength(1);
  }, 60_000);

  const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
  it.skipIf(!hasRedisServer)('a service refuses a Redis whose eviction policy could drop jobs', async () => {
    const port = await freePort();
    const lru = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const { code, output } = await run(ENTRIES.auth, { NODE_ENV: 'test', REDIS_URL: `redis://127.0.0.1:${port}` });
      expect(code).not.toBe(0);
      expect(output).toMatch(/maxmemory-policy "allkeys-lru".*noeviction/);
    } finally {
      lru.kill('SIGKILL');
    }
  }, 60_000);
});
