// One running system for every end-to-end suite: every service, a render worker and the gateway
// as real processes, a Stripe fake behind the billing service. Suites use their own people.
import { afterAll, beforeAll } from 'vitest';
import { startFakeStripe } from '../../services/billing/test/support/fake-stripe.js';
import { startSystem, WEBHOOK_SECRET, type E2E } from './system.js';
import { Browser } from './browser.js';
import { journeySuite } from './journey.js';
import { billingSuite } from './billing.js';
import { privacySuite } from './privacy.js';
import { leakSuite } from './leaks.js';

const e2e = { browser: (ip?: string) => new Browser(() => e2e.sys, ip) } as E2E;

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
  });
}, 300_000);

afterAll(async () => {
  await e2e.sys?.stop();
  await e2e.stripe?.close();
});

journeySuite(e2e);
billingSuite(e2e);
privacySuite(e2e);
leakSuite(e2e);
