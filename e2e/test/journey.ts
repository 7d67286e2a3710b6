import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fetch as undiciFetch } from 'undici';
import { eventually } from '@imlab/testing';
import type { E2E } from './system.js';
import { CLIENT_UA, agent, signUpVerified } from './browser.js';

export function journeySuite(e2e: E2E): void {
describe('the whole system, through the gateway', () => {
  const person = e2e.browser();

  it('documents in docs/api.md exactly the routes of the merged OpenAPI document', async () => {
    const doc = await eventually(async () => {
      const r = await undiciFetch(`${e2e.sys.gatewayUrl}/openapi.json`, { headers: { 'user-agent': CLIENT_UA }, dispatcher: agent });
      const json = (await r.json()) as { paths: Record<string, Record<string, unknown>>; 'x-imlab-unavailable-services'?: string[] };
      return json['x-imlab-unavailable-services'] ? undefined : json;
    }, 20_000);
    const served = Object.entries(doc!.paths)
      .flatMap(([p, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    const table = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');
    const documented = [...table.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(documented).toEqual(served);
  });

  it('signs a person up, verifies the email from the mailbox, and grants the sign-up bonus once', async () => {
    await signUpVerified(e2e.sys, person, 'mei@example.com');
    const me = await person.call('GET', '/v1/me');
    expect(me.status).toBe(200);
    const balance = await eventually(async () => {
      const r = await person.call('GET', '/v1/credits/balance');
      return r.status === 200 && r.body.available === 40 ? r.body : undefined;
    }, 20_000);
    expect(balance).toMatchObject({ available: 40, held: 0 });
  }, 60_000);

  it('turns a prompt into an image, charging exactly the quoted cost', async () => {
    const quote = await person.call('POST', '/v1/generations/quote', { prompt: 'a lighthouse in fog, watercolor', count: 1 });
    expect(quote.status).toBe(200);
    const cost = quote.body.cost as number;
    const created = await person.call('POST', '/v1/generations', { prompt: 'a lighthouse in fog, watercolor', count: 1, seed: 7 });
    expect(created.status).toBe(202);
    expect(created.body.cost).toBe(cost);
    const done = await eventually(async () => {
      const r = await person.call('GET', `/v1/generations/${created.body.id}`);
      return r.body.status === 'succeeded' ? r.body : undefined;
    }, 30_000);
    expect(done.images).toHaveLength(1);
    const image = await undiciFetch(`${e2e.sys.gatewayUrl}${done.images[0].url}`, { headers: { cookie: `imlab_sid=${person.cookies.get('imlab_sid')}`, 'user-agent': CLIENT_UA }, dispatcher: agent });
    expect(image.status).toBe(200);
    expect(Buffer.from(await image.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
    const balance = await eventually(async () => {
      const r = await person.call('GET', '/v1/credits/balance');
      return r.body.held === 0 ? r.body : undefined;
    });
    expect(balance).toEqual(expect.objectContaining({ available: 40 - cost, held: 0 }));
    const tx = await person.call('GET', '/v1/credits/transactions');
    expect(tx.status).toBe(200);
  }, 60_000);

  it('answers 402 with the shortfall when credits run out, and holds nothing for it', async () => {
    const big = { prompt: 'a harbour at night, many lanterns', model: 'imlab-pro', size: '1536x1024', count: 4 };
    const quote = await person.call('POST', '/v1/generations/quote', big);
    const available = (await person.call('GET', '/v1/credits/balance')).body.available as number;
    expect(quote.body.cost).toBeLessThanOrEqual(available);
    const first = await person.call('POST', '/v1/generations', big);
    expect(first.status).toBe(202);
    const second = await person.call('POST', '/v1/generations', big);
    expect(second.status).toBe(402);
    expect(second.headers.get('content-type')).toMatch(/problem\+json/);
    expect(second.body.shortfall).toBe(quote.body.cost - (available - quote.body.cost));
    await eventually(async () => (await person.call('GET', `/v1/generations/${first.body.id}`)).body.status === 'succeeded', 60_000);
    const balance = await eventually(async () => {
      const r = await person.call('GET', '/v1/credits/balance');
      return r.body.held === 0 ? r.body : undefined;
    });
    expect(balance.available).toBe(available - quote.body.cost);
  }, 90_000);

  it('charges once when the render worker is killed mid-job and a new one takes over', async () => {
    const before = (await person.call('GET', '/v1/credits/balance')).body.available as number;
    const created = await person.call('POST', '/v1/generations', { prompt: 'a kite over the sea at dawn', count: 1, seed: 3 });
    expect(created.status).toBe(202);
    await eventually(async () => (await person.call('GET', `/v1/generations/${created.body.id}`)).body.status === 'running', 20_000);
    await e2e.sys.kill('render-worker', 'SIGKILL');
    await e2e.sys.start('render-worker');
    const done = await eventually(async () => {
      const r = await person.call('GET', `/v1/generations/${created.body.id}`);
      return ['succeeded', 'failed'].includes(r.body.status) ? r.body : undefined;
    }, 60_000);
    const after = await eventually(async () => {
      const r = await person.call('GET', '/v1/credits/balance');
      return r.body.held === 0 ? r.body : undefined;
    }, 30_000);
    expect(after.available).toBe(done.status === 'succeeded' ? before - created.body.cost : before);
  }, 120_000);

  it('publishes to the public gallery, which shows no owner data beyond the display name', async () => {
    const list = await person.call('GET', '/v1/generations');
    const image = list.body.items.find((g: { status: string }) => g.status === 'succeeded').images[0];
    expect((await person.call('POST', `/v1/images/${image.id}/publish`)).status).toBeLessThan(300);
    const anonymous = e2e.browser();
    const gallery = await anonymous.call('GET', '/v1/gallery');
    expect(gallery.status).toBe(200);
    const text = JSON.stringify(gallery.body);
    expect(text).toContain(image.id);
    expect(text).not.toContain('mei@example.com');
  }, 30_000);

  it('keeps another person out of the first one\'s images and generations', async () => {
    const other = e2e.browser();
    await signUpVerified(e2e.sys, other, 'oscar@example.com');
    const list = await person.call('GET', '/v1/generations');
    const gen = list.body.items[0];
    expect((await other.call('GET', `/v1/generations/${gen.id}`)).status).toBe(404);
    expect((await other.call('DELETE', `/v1/images/${gen.images[0]?.id ?? gen.id}`)).status).toBe(404);
  }, 60_000);

  it('refuses cookie-authenticated writes from a foreign origin', async () => {
    const res = await undiciFetch(`${e2e.sys.gatewayUrl}/v1/generations`, {
      method: 'POST',
      headers: { cookie: `imlab_sid=${person.cookies.get('imlab_sid')}`, origin: 'https://evil.example', 'content-type': 'application/json', 'user-agent': CLIENT_UA },
      body: JSON.stringify({ prompt: 'csrf' }),
      dispatcher: agent,
    });
    expect(res.status).toBe(403);
  });

});
}
