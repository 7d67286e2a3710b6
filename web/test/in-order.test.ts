// The account's writes go one at a time in the order made, and one the server never answers is
// given up after its time so the writes after it still go (web/src/api/in-order.ts), over real HTTP.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inOrder } from '../src/api/in-order.js';

/** What reached the server, in order; a body of `{"hang":true}` is never answered. */
const arrived: string[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const sent = JSON.parse(body) as { v: string; hang?: boolean; wait?: number };
    arrived.push(sent.v);
    if (sent.hang) return;
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: sent.v, seen: [...arrived] })), sent.wait ?? 0);
  });
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const patch = (body: object) => (signal: AbortSignal) =>
  fetch(base, { method: 'PATCH', body: JSON.stringify(body), signal }).then((r) => r.json() as Promise<{ v: string; seen: string[] }>);

describe('writes in order', () => {
  it('sends each after the one before has answered, though the first is slow: the last answer holds them all', async () => {
    arrived.length = 0;
    const write = inOrder(5_000);
    const answers = await Promise.all([write(patch({ v: 'a', wait: 300 })), write(patch({ v: 'b' })), write(patch({ v: 'c', wait: 50 }))]);
    expect(arrived).toEqual(['a', 'b', 'c']);
    // each reached the server only after every earlier one had been answered
    expect(answers.map((a) => a.seen)).toEqual([['a'], ['a', 'b'], ['a', 'b', 'c']]);
  });

  it('a failed write does not stop the next', async () => {
    arrived.length = 0;
    const write = inOrder(5_000);
    const failed = write(() => Promise.reject(new Error('refused')));
    const next = write(patch({ v: 'd' }));
    await expect(failed).rejects.toThrow('refused');
    expect((await next).v).toBe('d');
  });

  it('gives up on a write the server never answers after its time, and the next one goes', async () => {
    arrived.length = 0;
    const write = inOrder(400);
    const started = Date.now();
    const lost = write(patch({ v: 'lost', hang: true }));
    const next = write(patch({ v: 'e' }));
    await expect(lost).rejects.toMatchObject({ name: 'TimeoutError' });
    expect((await next).v).toBe('e');
    expect(arrived).toEqual(['lost', 'e']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    // the next write's own time starts when it is sent, not when it was queued
    const slow = inOrder(400);
    const first = slow(patch({ v: 'f', wait: 300 }));
    const second = slow(patch({ v: 'g', wait: 300 }));
    expect((await first).v).toBe('f');
    expect((await second).v).toBe('g');
  });
});
