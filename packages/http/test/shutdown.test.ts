import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@imlab/testing';

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
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => {
        output += String(d);
        if (output.includes('"listening"')) resolve();
      }),
    );
    const inFlight = fetch(`http://127.0.0.1:${port}/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    // new connections are no longer accepted once closing starts
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    expect(await inFlight).toEqual({ status: 200, body: { finished: true } });
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');
  });
});
