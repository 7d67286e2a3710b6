import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeClients, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;

beforeAll(async () => {
  fakes = await startFakes();
  gw = await startGateway(fakes, { BODY_LIMIT: '65536', UPLOAD_BODY_LIMIT: '1048576' });
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

describe('an oversized body', () => {
  it('is answered 413 that fetch reads, every time, for a 5 MB upload and a 5 MB JSON body', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      for (const [path, type, body] of [
        ['/v1/uploads', 'image/png', new Uint8Array(5 * 1024 * 1024).fill(7)],
        ['/v1/generations/quote', 'application/json', JSON.stringify({ prompt: 'x'.repeat(5 * 1024 * 1024) })],
      ] as const) {
        try {
          const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
          const problem = (await res.json()) as { code?: string };
          outcomes.push(`${res.status} ${problem.code}`);
        } catch (err) {
          outcomes.push(`error ${String((err as Error & { cause?: { code?: string } }).cause?.code ?? err)}`);
        }
      }
    }
    expect(outcomes.filter((o) => o !== '413 PAYLOAD_TOO_LARGE')).toEqual([]);
  }, 150_000);
});

describe('a service that refuses an upload from its declared length', () => {
  it('gets its 413 through the gateway to a fetch client that is still sending, every time', async () => {
    const { buildApp } = await import('@imlab/http');
    const { createLogger } = await import('@imlab/logger');
    // As generation's upload route: a body limit below the gateway's, checked before reading.
    const service = await buildApp({ service: 'generation', logger: createLogger({ service: 'generation', level: 'silent' }) });
    await service.register(async (scope) => {
      scope.addContentTypeParser('image/png', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
      scope.post('/v1/uploads', { bodyLimit: 1024 * 1024 }, async () => ({ ok: true }));
    });
    const serviceUrl = await service.listen({ port: 0, host: '127.0.0.1' });
    const gw2 = await startGateway({ ...fakes, generation: { ...fakes.generation, url: serviceUrl } }, { UPLOAD_BODY_LIMIT: '20971520' });
    const outcomes: string[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        try {
          const res = await fetch(`${gw2.url}/v1/uploads`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(5 * 1024 * 1024).fill(7), signal: AbortSignal.timeout(10_000) });
          outcomes.push(`${res.status} ${((await res.json()) as { code?: string }).code}`);
        } catch (err) {
          outcomes.push(`error ${String((err as Error & { cause?: { code?: string } }).cause?.code ?? err)}`);
        }
      }
    } finally {
      await gw2.close();
      await service.close();
    }
    expect(outcomes.filter((o) => o !== '413 PAYLOAD_TOO_LARGE')).toEqual([]);
  }, 120_000);
});

describe('a service answering directly', () => {
  it('answers 413 to a fetch client still sending a 5 MB body, every time', async () => {
    const { buildApp } = await import('@imlab/http');
    const { createLogger } = await import('@imlab/logger');
    const service = await buildApp({ service: 'generation', logger: createLogger({ service: 'generation', level: 'silent' }) });
    service.post('/json', async () => ({ ok: true }));
    const url = await service.listen({ port: 0, host: '127.0.0.1' });
    const outcomes: string[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        try {
          const res = await fetch(`${url}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(5 * 1024 * 1024) }), signal: AbortSignal.timeout(10_000) });
          outcomes.push(`${res.status} ${((await res.json()) as { code?: string }).code}`);
        } catch (err) {
          outcomes.push(`error ${String((err as Error & { cause?: { code?: string } }).cause?.code ?? err)}`);
        }
      }
    } finally {
      await service.close();
    }
    expect(outcomes.filter((o) => o !== '413 PAYLOAD_TOO_LARGE')).toEqual([]);
  }, 120_000);
});
