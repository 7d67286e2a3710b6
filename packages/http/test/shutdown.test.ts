import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually, freePort, TS_NODE_ARGS } from '@imlab/testing';

describe('graceful shutdown', () => {
  it('lets an in-flight request finish on SIGTERM while queue intake stops at once, then exits cleanly', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const script = fileURLToPath(new URL('./fixtures/slow-server.ts', import.meta.url));
    const child = spawn(process.execPath, [...TS_NODE_ARGS, script, String(port), String(metricsPort)], {
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
    // queue intake stopped as the shutdown began, while the request was still running (both lines
    // are plain writes to stdout, in order; pino's own lines may arrive later)
    expect(output).toContain('intake stopped');
    expect(output.indexOf('intake stopped')).toBeLessThan(output.indexOf('slow request finished'));
    // the work still running after the HTTP side closed can still be scraped
    await eventually(() => output.includes('jobs draining'), 10_000);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
    expect(output).not.toContain('jobs drained');
    expect(await exited).toBe(0);
    expect(output).toContain('jobs drained');
    expect(output).toContain('shutting down');
  });
});

describe('draining', () => {
  it('answers a request arriving while the app closes with a problem+json 503 and Retry-After, and lets the one in flight finish', async () => {
    const { connect } = await import('node:net');
    const { buildApp } = await import('../src/index.js');
    const { createLogger } = await import('@imlab/logger');
    const app = await buildApp({ service: 'drain', logger: createLogger({ service: 'drain', level: 'silent' }) });
    let release: () => void = () => undefined;
    let startedSlow: () => void = () => undefined;
    const started = new Promise<void>((r) => (startedSlow = r));
    app.get('/slow', async () => {
      startedSlow();
      await new Promise<void>((done) => (release = done));
      return { finished: true };
    });
    app.get('/fast', async () => ({ ok: true }));
    // Hold the close between its preClose hooks and the server's own close for as long as the
    // second client needs: since Node 26, server.close() resets a connection whose request is
    // still incomplete (it counts as idle), so the window this test covers is the one where the
    // app is closing and the server still reads requests.
    let lateAnswered: Promise<void> = Promise.resolve();
    app.addHook('preClose', async () => {
      await lateAnswered;
    });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const socket = connect(Number(new URL(address).port), '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    const ended = new Promise<void>((r) => socket.on('close', () => r()));
    const other = connect(Number(new URL(address).port), '127.0.0.1');
    let late = '';
    other.on('data', (d: Buffer) => (late += d.toString()));
    const otherEnded = new Promise<void>((r) => other.on('close', () => r()));
    lateAnswered = otherEnded;
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    // A second client is half-way through sending its request when shutdown begins.
    other.write('GET /fast HTTP/1.1\r\nHost: x\r\n');
    await started;
    const closed = app.close();
    await new Promise((r) => setTimeout(r, 50)); // close() runs its preClose hooks on a later tick
    other.write('\r\n');
    await otherEnded;
    release();
    await closed;
    await ended;
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    expect(received).toContain('{"finished":true}');
    expect(late).toMatch(/^HTTP\/1\.1 503/);
    expect(late).toMatch(/content-type: application\/problem\+json/i);
    expect(late).toMatch(/retry-after: 1/i);
    expect(late).toContain('"code":"SERVICE_UNAVAILABLE"');
    expect(late).toMatch(/x-request-id: /i);
  });
});
