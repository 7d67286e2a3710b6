import type { Bus, ConsumeOptions, Worker } from '@imlab/queue';
import { stripeEventHandler } from './webhooks/webhooks.handlers.js';
import { ledgerPostedHandler } from './reconciliation/reconciliation.handlers.js';
import { userPurgeHandler } from './privacy/privacy.handlers.js';

/** Billing's inbox: Stripe events to apply, the ledger's postings, and privacy purges. */
export function startConsumers(bus: Bus, opts: ConsumeOptions = {}): Worker {
  return bus.consume(
    'billing',
    {
      'billing.stripe-event': stripeEventHandler(bus),
      'ledger.posted': ledgerPostedHandler,
      'user.purge': userPurgeHandler,
    },
    opts,
  );
}
