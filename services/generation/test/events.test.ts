import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { startHarness, type Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('events', { LOCAL_RENDER_MS: '600' });
});
afterAll(async () => h?.close());

/** Reads an SSE stream to its end and returns the parsed `status` events. */
async function readEvents(res: Response): Promise<{ status: string; images: unknown[] }[]> {
  return parseStatusEvents(await res.text());
}

function parseStatusEvents(text: string): { status: string; images: unknown[] }[] {
  return text
    .split('\n\n')
    .filter((block) => block.split('\n').includes('event: status'))
    .map((block) => JSON.parse(block.split('\n').find((l) => l.startsWith('data: '))!.slice(6)));
}

describe('GET /v1/generations/:id/events', () => {
  it('streams queued → running → succeeded with the images, then closes; Redis carries only ids and statuses', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const sub = h.ctx.bus.redis.duplicate();
    const published: string[] = [];
    sub.on('message', (_c: string, m: string) => published.push(m));
    await sub.subscribe(`${h.ctx.bus.prefix}:generation-status`);

    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'a secret prompt about tea', model: 'imlab-draft' } });
    const res = await fetch(`${h.url}/v1/generations/${created.body.id}/events`, { headers: { authorization: `Bearer ${await h.token(user)}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    // The render starts only once the stream is open, so it cannot be over before we listen.
    const worker = await h.startWorker();
    const text = await res.text();
    const events = parseStatusEvents(text);
    await worker.worker.close();
    const statuses = events.map((e) => e.status);
    // The local renderer reports progress: `progress` events (no id) between running and succeeded, rising.
    const blocks = text.split('\n\n');
    const progress = blocks.filter((b) => b.startsWith('event: progress\n')).map((b) => JSON.parse(b.split('\n')[1]!.slice(6)) as { id: string; percent: number });
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p.id).toBe(created.body.id);
    const percents = progress.map((p) => p.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const firstProgress = blocks.findIndex((b) => b.startsWith('event: progress'));
    expect(blocks.findIndex((b) => b.startsWith('id: running'))).toBeLessThan(firstProgress);
    expect(blocks.findIndex((b) => b.startsWith('id: succeeded'))).toBeGreaterThan(firstProgress);
    expect(statuses.at(-1)).toBe('succeeded');
    expect(statuses).toContain('running');
    expect(['queued', 'running']).toContain(statuses[0]);
    expect(events.at(-1)!.images).toHaveLength(1);

    sub.disconnect();
    expect(published.length).toBeGreaterThan(0);
    for (const m of published) expect(m).toMatch(/^[0-9a-f-]{36} ([a-z]+|progress \d{1,3})$/);
  });

  it('names each event by its status, and a reconnect with Last-Event-ID is not sent that status again', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'resumed', model: 'imlab-draft' } });
    const auth = { authorization: `Bearer ${await h.token(user)}` };
    const first = await fetch(`${h.url}/v1/generations/${created.body.id}/events`, { headers: auth });
    const reader = first.body!.getReader();
    const opening = new TextDecoder().decode((await reader.read()).value);
    expect(opening).toMatch(/^id: (reserving|queued)\nevent: status\ndata: /);
    const seen = /^id: (\w+)/.exec(opening)![1]!;
    await reader.cancel();
    const again = await fetch(`${h.url}/v1/generations/${created.body.id}/events`, { headers: { ...auth, 'last-event-id': seen } });
    const worker = await h.startWorker();
    const statuses = (await readEvents(again)).map((e) => e.status);
    await worker.worker.close();
    expect(statuses).not.toContain(seen);
    expect(statuses.at(-1)).toBe('succeeded');
  });

  it('ends at once for a finished generation, and refuses someone else', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'quick', model: 'imlab-draft' } });
    await h.api('POST', `/v1/generations/${created.body.id}/cancel`, { user });
    const res = await fetch(`${h.url}/v1/generations/${created.body.id}/events`, { headers: { authorization: `Bearer ${await h.token(user)}` } });
    expect((await readEvents(res)).map((e) => e.status)).toEqual(['canceled']);
    const other = await fetch(`${h.url}/v1/generations/${created.body.id}/events`, { headers: { authorization: `Bearer ${await h.token(uuidv7())}` } });
    expect(other.status).toBe(404);
    expect(other.headers.get('content-type')).toContain('application/problem+json');
  });
});

describe('shutdown with event streams open', () => {
  it('ends open streams so the service stops at once instead of waiting out its grace period', async () => {
    const h2 = await startHarness('events-close');
    try {
      const user = uuidv7();
      h2.ledger.grant(user, 10);
      const created = await h2.api('POST', '/v1/generations', { user, body: { prompt: 'never rendered', model: 'imlab-draft' } });
      const res = await fetch(`${h2.url}/v1/generations/${created.body.id}/events`, { headers: { authorization: `Bearer ${await h2.token(user)}` } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read(); // the first status event: the stream is open
      const started = Date.now();
      const closed = await Promise.race([h2.app.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 5000))]);
      expect(closed).toBe('closed');
      expect(Date.now() - started).toBeLessThan(5000);
      // The client sees the stream end (an EventSource would reconnect elsewhere).
      for (;;) if ((await reader.read()).done) break;
    } finally {
      await h2.close();
    }
  });
});
