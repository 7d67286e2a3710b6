import type { Kysely } from '@imlab/db';
import type { Logger } from '@imlab/logger';
import { AppError } from '@imlab/http';
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { DB, TaxBehavior } from '../db.js';
import type { Pack } from '../pricing/catalog.js';
import type { Stripe } from '../stripe/stripe-client.js';
import * as orders from '../orders/orders.repository.js';

export interface CheckoutDeps {
  db: Kysely<DB>;
  stripe: Stripe;
  packs: readonly Pack[];
  publicBaseUrl: string;
  successPath: string;
  cancelPath: string;
  sessionTtlSeconds: number;
  /** Stripe Tax on Checkout, and whether the pack price includes the tax. */
  tax: { automatic: boolean; behavior: TaxBehavior };
  log: Logger;
}

function pageUrl(base: string, path: string, orderId: string): string {
  const u = new URL(path, base);
  u.searchParams.set('order', orderId);
  return u.toString();
}

/**
 * A pending order, then a Stripe Checkout Session for it. The order id travels as
 * client_reference_id and metadata (the webhook finds the order by it) and is the Stripe
 * idempotency key, so a retried create never opens a second session for one order (its parameters,
 * the expiry included, are derived from the order, so a retry sends the same ones).
 *
 * With an Idempotency-Key, a person's repeated request (a double click, a retry after a lost
 * answer) gets the same order and page; the same key with another request is refused. An order
 * whose page was never obtained (Stripe did not answer) asks Stripe again under the order's key.
 */
export async function startCheckout(
  deps: CheckoutDeps,
  input: { userId: string; packId: string; locale: 'en' | 'zh'; idempotencyKey?: string | undefined },
): Promise<{ orderId: string; url: string; replayed: boolean }> {
  const pack = deps.packs.find((p) => p.id === input.packId);
  if (!pack) throw new AppError('BILLING_PACK_NOT_FOUND', { params: { packId: input.packId } });
  const key = input.idempotencyKey;
  const requestHash = createHash('sha256').update(JSON.stringify({ packId: pack.id, locale: input.locale })).digest('hex');

  const inserted = await orders.insertOrder(deps.db, {
    id: uuidv7(),
    user_id: input.userId,
    pack_id: pack.id,
    credits: pack.credits,
    amount: pack.price,
    currency: pack.currency,
    status: 'pending',
    stripe_session_id: null,
    stripe_payment_intent_id: null,
    paid_at: null,
    closed_at: null,
    idempotency_key: key ?? null,
    request_hash: key ? requestHash : null,
    // Known when the order is made, so a retry asks Stripe for what the first request did.
    tax_behavior: deps.tax.automatic ? deps.tax.behavior : null,
  });
  if (inserted) return { ...(await openSession(deps, inserted, pack, input.locale)), replayed: false };

  // The person already has an order under this key.
  const order = await orders.findOrderByIdempotencyKey(deps.db, input.userId, key!);
  if (!order) throw new AppError('BILLING_CONFLICT', { retryable: true });
  if (order.request_hash !== requestHash) {
    throw new AppError('BILLING_IDEMPOTENCY_KEY_REUSED');
  }
  // The page lives until the session expires; Stripe takes a session only if it lives 30 minutes more.
  const expiresAtMs = sessionExpiry(order, deps.sessionTtlSeconds) * 1000;
  const over = () => new AppError('BILLING_CHECKOUT_OVER');
  if (order.checkout_url) {
    if (order.status !== 'pending' || Date.now() >= expiresAtMs) throw over();
    return { orderId: order.id, url: order.checkout_url, replayed: true };
  }
  if (order.status === 'pending') {
    // The first request is still asking Stripe (or died doing so; the sweeper fails such an order).
    throw new AppError('BILLING_CHECKOUT_IN_PROGRESS', { retryable: true, details: { retryAfter: 1 } });
  }
  if (order.status !== 'failed' || Date.now() >= expiresAtMs - 30 * 60_000) throw over();
  return { ...(await openSession(deps, order, pack, input.locale)), replayed: true };
}

/** When the order's Checkout Session expires: derived from the order, so every create sends the same. */
function sessionExpiry(order: orders.OrderRow, ttlSeconds: number): number {
  return Math.floor(order.created_at.getTime() / 1000) + ttlSeconds;
}

async function openSession(deps: CheckoutDeps, order: orders.OrderRow, pack: Pack, locale: 'en' | 'zh'): Promise<{ orderId: string; url: string }> {
  const orderId = order.id;
  let session: Stripe.Checkout.Session;
  try {
    session = await deps.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        client_reference_id: orderId,
        metadata: { orderId },
        payment_intent_data: { metadata: { orderId } },
        line_items: [
          {
            quantity: 1,
            // the order's price, not today's catalog: a retry asks for what the order says
            price_data: {
              currency: order.currency,
              unit_amount: order.amount,
              product_data: { name: pack.name[locale] },
              ...(order.tax_behavior ? { tax_behavior: order.tax_behavior } : {}),
            },
          },
        ],
        ...(order.tax_behavior ? { automatic_tax: { enabled: true } } : {}),
        locale: locale === 'zh' ? 'zh' : 'en',
        success_url: pageUrl(deps.publicBaseUrl, deps.successPath, orderId),
        cancel_url: pageUrl(deps.publicBaseUrl, deps.cancelPath, orderId),
        expires_at: sessionExpiry(order, deps.sessionTtlSeconds),
      },
      { idempotencyKey: orderId },
    );
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 409) {
      // Another request for this order is asking Stripe right now: it, not this one, decides the order.
      throw new AppError('BILLING_CHECKOUT_IN_PROGRESS', { retryable: true, details: { retryAfter: 1 }, cause: err });
    }
    await orders.setStatusIf(deps.db, orderId, 'pending', 'failed');
    deps.log.warn({ orderId, err: { type: (err as { type?: string }).type, message: (err as Error).message } }, 'stripe checkout session not created');
    throw new AppError('BILLING_STRIPE_UNAVAILABLE', { cause: err });
  }
  if (!session.url) {
    await orders.setStatusIf(deps.db, orderId, 'pending', 'failed');
    throw new AppError('BILLING_STRIPE_UNAVAILABLE', { message: 'the payment provider returned no checkout page' });
  }
  await orders.setCheckoutSession(deps.db, orderId, session.id, session.url);
  return { orderId, url: session.url };
}
