import { loadConfig, baseEnv, port, str, url, duration, num, bool, makeValidator, listenPort } from '@imlab/config';
import { parsePricingPacks, DEFAULT_PACKS, type Pack } from './pricing/catalog.js';

/** PRICING_PACKS: a JSON array of packs; validated at start-up with every problem named. */
const pricingPacks = makeValidator<readonly Pack[]>((input: string) => parsePricingPacks(input));

export const configSpec = {
  ...baseEnv,
  PORT: port({ default: 4004 }),
  /** /metrics, on its own internal listener (never the public PORT). */
  METRICS_PORT: listenPort({ default: 9404 }),
  DATABASE_NAME: str({ default: 'imlab_billing' }),
  STRIPE_SECRET_KEY: str({ devDefault: 'sk_test_development_placeholder', desc: 'Stripe secret API key' }),
  STRIPE_WEBHOOK_SECRET: str({ devDefault: 'whsec_development_placeholder', desc: 'signing secret of the Stripe webhook endpoint' }),
  STRIPE_API_BASE: url({ default: 'https://api.stripe.com', desc: 'Stripe API origin; tests point it at a local fake' }),
  /** How old a webhook signature may be (replay window), in seconds. */
  STRIPE_WEBHOOK_TOLERANCE: duration({ default: 300 }),
  STRIPE_TIMEOUT_MS: num({ default: 20_000 }),
  STRIPE_MAX_NETWORK_RETRIES: num({ default: 2 }),
  /**
   * A checkout in flight at SIGTERM waits for Stripe, which may take every attempt's timeout: the
   * drain covers that (see the check below), so a person starting a checkout during a deploy gets
   * their page rather than a cut connection.
   */
  SHUTDOWN_GRACE_MS: num({ default: 70_000 }),
  CHECKOUT_SUCCESS_PATH: str({ default: '/billing/success' }),
  CHECKOUT_CANCEL_PATH: str({ default: '/billing/cancel' }),
  /** Lifetime of a Checkout Session (Stripe accepts 30 minutes to 24 hours). */
  CHECKOUT_SESSION_TTL: duration({ default: 3600 }),
  PRICING_PACKS: pricingPacks({ default: DEFAULT_PACKS }),
  /** Checkout asks Stripe Tax to compute the tax (`automatic_tax[enabled]`); the tax is stored with the order. */
  STRIPE_AUTOMATIC_TAX: bool({ default: false }),
  /** Whether pack prices include the tax (`inclusive`) or get it added at Checkout (`exclusive`); Stripe's `tax_behavior`. */
  PRICES_TAX_BEHAVIOR: str({ choices: ['inclusive', 'exclusive'] as const, default: 'inclusive' }),
  /** Pending orders older than this are looked up at Stripe by the sweeper. */
  PENDING_ORDER_SWEEP_AGE: duration({ default: 900 }),
  PENDING_ORDER_SWEEP_INTERVAL: duration({ default: 300 }),
};

export type Config = ReturnType<typeof loadBillingConfig>;

export function loadBillingConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig('billing', configSpec, env, (config, problems) => {
    // Stripe refuses a Checkout Session expiring sooner than 30 minutes or later than 24 hours.
    const ttl = config.CHECKOUT_SESSION_TTL;
    // A margin on both sides: the expiry is computed here, then travels (SDK retries, clock skew).
    if (ttl !== undefined && (ttl < 1920 || ttl > 86_280)) problems.CHECKOUT_SESSION_TTL = 'must be between 32m and 23h58m (Stripe accepts 30 minutes to 24 hours from its own clock)';
    const { SHUTDOWN_GRACE_MS: grace, STRIPE_TIMEOUT_MS: timeout, STRIPE_MAX_NETWORK_RETRIES: retries } = config;
    if (grace !== undefined && timeout !== undefined && retries !== undefined) {
      // every attempt timing out, plus the SDK's waits between them (at most a few seconds)
      const longest = timeout * (retries + 1) + 5000;
      if (grace < longest) problems.SHUTDOWN_GRACE_MS = `must be at least ${longest} (a Stripe call in a request may take STRIPE_TIMEOUT_MS × (STRIPE_MAX_NETWORK_RETRIES + 1) plus the waits between attempts)`;
    }
  });
}
