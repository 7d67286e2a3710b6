import type { Kysely } from '@imlab/db';
import type { Bus } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import type { DB } from '../db.js';
import type { Stripe } from '../stripe/stripe-client.js';
import * as orders from '../orders/orders.repository.js';
import { markPaid } from '../orders/settlement.service.js';
import { applyParked } from '../webhooks/stripe-events.service.js';

export interface SweeperDeps {
  db: Kysely<DB>;
  bus: Bus<DB>;
  stripe: Stripe;
  log: Logger;
  /** Pending orders older than this many seconds are looked up. */
  ageSeconds: number;
  batch?: number;
}

export interface SweepResult {
  checked: number;
  fulfilled: number;
  expired: number;
  failed: number;
  open: number;
}

/** When the session's payment was charged, if Stripe expanded its PaymentIntent and latest charge. */
function chargedAt(session: Stripe.Checkout.Session): Date | null {
  const intent = session.payment_intent;
  const charge = intent && typeof intent === 'object' ? intent.latest_charge : null;
  return charge && typeof charge === 'object' && Number.isSafeInteger(charge.created) ? new Date(charge.created * 1000) : null;
}

const idOf = (v: unknown): string | null => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string' ? (v as { id: string }).id : null);

/**
 * A webhook that never arrives must not cost a customer their credits: pending orders older than
 * the configured age are looked up at Stripe and fulfilled or expired through the same code the
 * webhook uses, so a late webhook afterwards changes nothing.
 */
export async function sweepPendingOrders(deps: SweeperDeps): Promise<SweepResult> {
  const result: SweepResult = { checked: 0, fulfilled: 0, expired: 0, failed: 0, open: 0 };
  const cutoff = new Date(Date.now() - deps.ageSeconds * 1000);
  const candidates = await orders.pendingOrdersOlderThan(deps.db, cutoff, deps.batch ?? 100);
  for (const candidate of candidates) {
    result.checked++;
    try {
      await sweepOne(deps, candidate, result);
    } catch (err) {
      // One order failing (a deadlock, Stripe's refund list timing out) must not stop the sweep,
      // nor keep that order first in line for the next one.
      deps.log.warn({ orderId: candidate.id, err }, 'sweeping an order failed; it is retried on a later sweep');
      await orders.touchOrder(deps.db, candidate.id).catch(() => undefined);
    }
  }
  return result;
}

async function sweepOne(deps: SweeperDeps, candidate: { id: string; stripe_session_id: string | null }, result: SweepResult): Promise<void> {
  if (!candidate.stripe_session_id) {
    // Stripe never answered the create: no one can pay this order.
    if (await orders.setStatusIf(deps.db, candidate.id, 'pending', 'failed')) result.failed++;
    return;
  }
  let session: Stripe.Checkout.Session;
  try {
    // The payment's charge comes along: its time is when the order was paid (no webhook says when).
    session = await deps.stripe.checkout.sessions.retrieve(candidate.stripe_session_id, { expand: ['payment_intent.latest_charge'] });
  } catch (err) {
    const e = err as { code?: string; statusCode?: number; message?: string };
    if (e.statusCode === 404 || e.code === 'resource_missing') {
      if (await orders.setStatusIf(deps.db, candidate.id, 'pending', 'expired')) result.expired++;
    } else {
      deps.log.warn({ orderId: candidate.id, err: { code: e.code, message: e.message } }, 'sweeper could not look up the checkout session');
    }
    return;
  }
  const paymentIntentId = idOf(session.payment_intent);
  if (session.payment_status === 'paid' || session.payment_status === 'no_payment_required') {
    await deps.db.transaction().execute(async (tx) => {
      if (paymentIntentId) await orders.lockPaymentIntent(tx, paymentIntentId);
      const order = await orders.lockOrder(tx, candidate.id);
      if (!order) return;
      await markPaid(tx, order, paymentIntentId, { bus: deps.bus, log: deps.log }, { amount: session.amount_total ?? null, currency: session.currency ?? null, at: chargedAt(session), tax: session.total_details?.amount_tax ?? null });
      if (paymentIntentId) await applyParked(tx, paymentIntentId, { bus: deps.bus, log: deps.log, stripe: deps.stripe });
    });
    result.fulfilled++;
    deps.log.info({ orderId: candidate.id }, 'order fulfilled by the sweeper (webhook missing)');
  } else if (session.status === 'expired') {
    if (await orders.setStatusIf(deps.db, candidate.id, 'pending', 'expired')) result.expired++;
  } else if (session.status === 'complete' && delayedPaymentFailed(session)) {
    // A delayed payment (bank debit) failed and checkout.session.async_payment_failed never came:
    // the session stays complete and unpaid for good, so the order fails as that webhook would fail it.
    if (await orders.setStatusIf(deps.db, candidate.id, 'pending', 'failed')) result.failed++;
    deps.log.info({ orderId: candidate.id }, 'order failed by the sweeper: its delayed payment failed (webhook missing)');
  } else {
    result.open++;
    await orders.touchOrder(deps.db, candidate.id);
  }
}

/**
 * A completed Checkout Session stays `unpaid` while a delayed payment method settles (days for a
 * bank debit). Its PaymentIntent (expanded with the session) tells a debit still processing
 * (`processing`) from one that failed: back to `requires_payment_method` with the error, or canceled.
 */
function delayedPaymentFailed(session: Stripe.Checkout.Session): boolean {
  const intent = session.payment_intent;
  if (!intent || typeof intent !== 'object') return false;
  return intent.status === 'canceled' || (intent.status === 'requires_payment_method' && intent.last_payment_error != null);
}

/** Runs the sweep every `intervalSeconds`; never overlaps itself; `close()` waits for a running sweep. */
export function startSweeper(deps: SweeperDeps, intervalSeconds: number): { close(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let closed = false;
  const tick = () => {
    timer = setTimeout(() => {
      running = sweepPendingOrders(deps)
        .catch((err) => deps.log.error({ err }, 'order sweep failed'))
        .finally(() => {
          running = undefined;
          if (!closed) tick();
        });
    }, intervalSeconds * 1000);
    timer.unref();
  };
  tick();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
