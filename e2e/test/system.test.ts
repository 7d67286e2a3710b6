// One running system for every end-to-end suite: every service, a render worker and the gateway
// as real processes, a Stripe fake behind the billing service. Suites use their own people.
// Every answer they get through the gateway is checked against the API document it serves.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeStripe } from '../../services/billing/test/support/fake-stripe.js';
import { startSystem, WEBHOOK_SECRET, type E2E } from './system.js';
import { Browser } from './browser.js';
import { loadContract, apartFromDeployment, type OpenApiDocument } from './contract.js';
import { journeySuite } from './journey.js';
import { billingSuite } from './billing.js';
import { privacySuite } from './privacy.js';
import { leakSuite } from './leaks.js';
import { financeSuite } from './finance.js';
import { settingsSuite } from './settings.js';

const e2e = { browser: (ip?: string) => new Browser(() => e2e, ip) } as E2E;

beforeAll(async () => {
  e2e.stripe = await startFakeStripe();
  e2e.sys = await startSystem('e2e', {
    LOCAL_RENDER_MS: '1500',
    RENDER_LOCK_MS: '3000',
    RENDER_STALLED_INTERVAL_MS: '1000',
    ACCOUNT_PURGE_DELAY: '4s',
    PRIVACY_POLL_MS: '300',
    STRIPE_API_BASE: e2e.stripe.base,
    STRIPE_SECRET_KEY: 'sk_test_e2e_0123456789',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    // as the start script: each service's migrate command, then the processes
  }, { migrateCommands: true });
  // The gateway serves the ops queue board outside the API: a web page, not an operation.
  e2e.contract = await loadContract(e2e.sys.gatewayUrl, { outside: { '/admin/queues': 'the ops queue board, a web page of the gateway' } });
}, 300_000);

afterAll(async () => {
  await e2e.sys?.stop();
  await e2e.stripe?.close();
});

describe('the API document', () => {
  it('is the one the checked-in client was generated from (apart from this deployment: its servers and base URL)', () => {
    const checkedIn = JSON.parse(readFileSync(new URL('../../packages/client/openapi.json', import.meta.url), 'utf8')) as OpenApiDocument;
    expect(apartFromDeployment(e2e.contract.document)).toEqual(apartFromDeployment(checkedIn));
  });
});

describe('metrics', () => {
  it('every process serves /metrics on its own internal listener; no public port answers it', async () => {
    for (const [name, url] of Object.entries(e2e.sys.serviceUrls)) {
      expect((await fetch(`${url}/metrics`)).status, `${name}'s public port`).toBe(404);
      const scrape = await fetch(e2e.sys.metricsUrls[name]!);
      expect(scrape.status, `${name}'s metrics listener`).toBe(200);
      expect(await scrape.text(), name).toMatch(/^process_cpu_user_seconds_total\{[^}]*service=/m);
    }
  });
});

journeySuite(e2e);
billingSuite(e2e);
financeSuite(e2e);
privacySuite(e2e);
settingsSuite(e2e);
leakSuite(e2e);

describe('the API document, after all of it', () => {
  it('declared every answer the suites got: status, content type, headers and body', () => {
    const { checked, mismatches, outside } = e2e.contract;
    // each distinct mismatch once, with how often it happened (polling repeats them)
    const counted = [...new Set(mismatches)].map((m) => `${m} (×${mismatches.filter((x) => x === m).length})`);
    expect(counted, `${mismatches.length} answers differ from the document`).toEqual([]);
    expect(checked, 'answers checked').toBeGreaterThan(100);
    // the answers the suites provoke on purpose were among them (problems, files, webhooks)
    expect([...e2e.contract.seen.keys()]).toEqual(
      expect.arrayContaining([
        'POST /v1/generations 402',
        'POST /v1/generations 403',
        'GET /v1/generations/{id} 404',
        'DELETE /v1/images/{id} 404',
        'GET /v1/images/{id} 200',
        'GET /v1/me/exports/{id}/download 200',
        'GET /v1/me/exports/{id}/download 404',
        'GET /v1/admin/ledger/export.csv 200',
        'POST /v1/billing/webhook 400',
        'POST /v1/billing/webhook 200',
        'GET /v1/me 401',
      ]),
    );
    expect([...outside.keys()], 'paths answered outside the document').toEqual(['/admin/queues']);
  });
});
