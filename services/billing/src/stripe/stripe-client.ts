import Stripe from 'stripe';
import type { Config } from '../config.js';

export type { Stripe };

/**
 * The official SDK, pointed at STRIPE_API_BASE (host, port and protocol) so that tests and local
 * development talk to a fake with the real wire format.
 */
export function createStripe(config: Pick<Config, 'STRIPE_SECRET_KEY' | 'STRIPE_API_BASE' | 'STRIPE_TIMEOUT_MS' | 'STRIPE_MAX_NETWORK_RETRIES'>): Stripe {
  const base = new URL(config.STRIPE_API_BASE);
  const protocol = base.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(config.STRIPE_SECRET_KEY, {
    host: base.hostname,
    port: base.port ? Number(base.port) : protocol === 'http' ? 80 : 443,
    protocol,
    timeout: config.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
    telemetry: false,
    appInfo: { name: 'imagemakerlab-billing' },
  });
}
