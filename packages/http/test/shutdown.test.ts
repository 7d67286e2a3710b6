import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually, freePort } from '@imlab/testing';

describe('graceful shutdown', () => {
  it('lets an in-flight request finish on SIGTERM, then exits cleanly', async () => {
    const port = await freePort();
    const script = fileURLToPath(new URL('./fixtures/slow-server.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, String(port)], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (d) => (output += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdout.on('data', (d) => (output += String(d)));
    await eventually(() => output.includes('"listening"'), 30_000);
    const inFlight = fetch(`http://127.0.0.1:${port}/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    // SIGTERM once the server is inside the slow handler (not after a guessed delay).
    await eventually(() => output.includes('slow request started'), 10_000);
    child.kill('SIGTERM');
    // new connections are no longer accepted once closing starts
    await eventually(() => output.includes('shutting down'), 10_000);
    await eventually(async () => {
      try {
        await fetch(`http://127.0.0.1:${port}/healthz`);
        return false;
      } catch {
        return true;
      }
    }, 1000);
    expect(await inFlight).toEqual({ status: 200, body: { finished: true } });
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');
  });
});
