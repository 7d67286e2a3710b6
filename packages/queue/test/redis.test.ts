import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort, infra } from '@imlab/testing';
import { assertRedisReady } from '../src/index.js';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

describe('start-up checks on Redis', () => {
  let lru: ChildProcess | undefined;
  let lruPort = 0;

  beforeAll(async () => {
    if (!hasRedisServer) return;
    lruPort = await freePort();
    lru = spawn('redis-server', ['--port', String(lruPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], { stdio: 'ignore' });
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await assertRedisReady(`redis://127.0.0.1:${lruPort}`);
        break;
      } catch (err) {
        if (/maxmemory-policy/.test((err as Error).message) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  afterAll(() => {
    lru?.kill('SIGKILL');
  });

  it('accepts the test Redis, which runs with noeviction', async () => {
    await expect(assertRedisReady(infra().redisUrl)).resolves.toBeUndefined();
  });

  it.skipIf(!hasRedisServer)('refuses a Redis with an eviction policy, naming the fix', async () => {
    await expect(assertRedisReady(`redis://127.0.0.1:${lruPort}`)).rejects.toThrow(/maxmemory-policy "allkeys-lru".*noeviction/);
  });

  it('says clearly when Redis is unreachable, without the password', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await assertRedisReady(`redis://:hunter2secret@127.0.0.1:${port}`, 1000).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/);
    expect((err as Error).message).not.toContain('hunter2secret');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
