import { UUID_RE } from '@imlab/contracts';
import type { Stripe } from '../stripe/stripe-client.js';

/** The few ids and amounts billing keeps from a Stripe event; the payload itself is never stored. */
export interface EventFacts {
  id: string;
  type: string;
  created: Date;
  orderId: string | null;
  objectId: string | null;
  paymentIntentId: string | null;
  objectStatus: string | null;
  amount: number | null;
  currency: string | null;
  /** A checkout session's `total_details.amount_tax` (Stripe Tax). */
  taxAmount: number | null;
}


type Obj = Record<string, unknown>;

const str = (v: unknown, max = 255): string | null => (typeof v === 'string' && v.length > 0 && v.length <= max ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);
/** Stripe fields like `payment_intent` are an id, or the object itself when expanded. */
const idOf = (v: unknown): string | null => str(v) ?? (v && typeof v === 'object' ? str((v as Obj).id) : null);
const uuidOrNull = (v: unknown): string | null => {
  const s = str(v);
  return s && UUID_RE.test(s) ? s.toLowerCase() : null;
};
const currencyOf = (v: unknown): string | null => {
  const s = str(v);
  return s && /^[a-z]{3}$/i.test(s) ? s.toLowerCase() : null;
};

/** Events whose object is a Refund: how billing learns that a refund failed or was canceled. */
export const REFUND_EVENTS = new Set(['charge.refund.updated', 'refund.updated', 'refund.failed']);

export function factsOf(event: Stripe.Event): EventFacts {
  const obj = (event.data?.object ?? {}) as unknown as Obj;
  const metadata = (obj.metadata && typeof obj.metadata === 'object' ? obj.metadata : {}) as Obj;
  const base: EventFacts = {
    id: event.id,
    type: event.type,
    created: new Date((int(event.created) ?? Math.floor(Date.now() / 1000)) * 1000),
    orderId: null,
    objectId: null,
    paymentIntentId: null,
    objectStatus: null,
    amount: null,
    currency: null,
    taxAmount: null,
  };
  if (event.type.startsWith('checkout.session.')) {
    return {
      ...base,
      objectId: str(obj.id),
      orderId: uuidOrNull(metadata.orderId) ?? uuidOrNull(obj.client_reference_id),
      paymentIntentId: idOf(obj.payment_intent),
      objectStatus: str(obj.payment_status, 40),
      amount: int(obj.amount_total),
      currency: currencyOf(obj.currency),
      taxAmount: obj.total_details && typeof obj.total_details === 'object' ? int((obj.total_details as Obj).amount_tax) : null,
    };
  }
  // Charges, Refunds and Disputes carry the same few facts; only which amount counts differs.
  const objectFacts = (amount: unknown) => ({
    ...base,
    objectId: str(obj.id),
    orderId: uuidOrNull(metadata.orderId),
    paymentIntentId: idOf(obj.payment_intent),
    objectStatus: str(obj.status, 40),
    amount: int(amount),
    currency: currencyOf(obj.currency),
  });
  // A Charge: cumulative, the total refunded on it so far, not this refund's amount.
  if (event.type === 'charge.refunded') return objectFacts(obj.amount_refunded);
  // A Refund (this refund's own amount and status: pending, succeeded, failed, canceled...) or a Dispute.
  if (REFUND_EVENTS.has(event.type) || event.type.startsWith('charge.dispute.')) return objectFacts(obj.amount);
  // A Payout: its id, amount, currency and status; its transactions are imported when it is paid.
  if (event.type.startsWith('payout.')) return objectFacts(obj.amount);
  return base;
}
