import { Type } from '@sinclair/typebox';
import { command, event } from './define.js';
import { Uuid, PositiveInt } from './common.js';

export const billingMessages = {
  /** A verified Stripe webhook event, stored by id, processed from billing's own inbox. */
  // Persistent: a stored Stripe event (a payment, a refund) is applied however long billing's database is out.
  'billing.stripe-event': command('billing', Type.Object({ eventId: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false }), { persistent: true }),
  /** Refund at Stripe an order paid after its owner's account was purged (nobody to credit). */
  'billing.refund-orphaned-order': command('billing', Type.Object({ orderId: Uuid }, { additionalProperties: false }), { persistent: true }),
  'order.paid': event(
    ['notification'],
    Type.Object(
      { orderId: Uuid, userId: Uuid, credits: PositiveInt, amount: PositiveInt, currency: Type.String({ minLength: 3, maxLength: 3 }) },
      { additionalProperties: false },
    ),
  ),
};
