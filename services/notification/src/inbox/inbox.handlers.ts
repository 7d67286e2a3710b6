import { Counter, type Registry } from 'prom-client';
import { AppError } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import { isSealed, unseal, type ConsumeOptions, type Job, type Worker } from '@imlab/queue';
import { type ServiceContext } from '@imlab/service';
import type { Config } from '../config.js';
import type { DB } from '../db.js';
import { purgeUser, rememberContact } from '../contacts/contacts.service.js';
import { deliverEmail, type DeliveryDeps, type EmailRequest } from '../delivery/delivery.service.js';
import type { Mailer } from '../delivery/providers/index.js';

export interface ConsumerDeps {
  ctx: ServiceContext<DB>;
  config: Config;
  mailer: Mailer;
  /** The app's registry: `imlab_notification_emails_total{template,outcome}` goes there. */
  metrics?: Registry;
}

/** What happened to one email attempt, for the counter. */
function outcomeOf(err: unknown): string {
  if (!(err instanceof AppError)) return 'error';
  if (err.code === 'NOTIFICATION_PROVIDER_UNAVAILABLE' || err.code === 'NOTIFICATION_SEND_IN_PROGRESS') return 'retry';
  if (err.code === 'NOTIFICATION_CONTACT_UNKNOWN') return err.retryable ? 'waiting_for_contact' : 'failed';
  return 'failed';
}

const isLastAttempt = (job: Job): boolean => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);

/**
 * The notification inbox. Contact events change state inside the inbox transaction (deduped by
 * message id). Emails are different: their state lives in `deliveries`, committed around the
 * provider call on the pool (see delivery.service.ts), so a redelivered or retried message finds
 * what already happened and never sends twice; the inbox row only records the outcome.
 */
export function startConsumers({ ctx, config, mailer, metrics }: ConsumerDeps, opts: ConsumeOptions = {}): Worker {
  const emails = new Counter({
    name: 'imlab_notification_emails_total',
    help: 'Email attempts by template and outcome (sent, suppressed, skipped, duplicate, retry, failed, ...)',
    labelNames: ['template', 'outcome'],
    registers: metrics ? [metrics] : [],
  });
  const deps = (log: Logger): DeliveryDeps => ({
    db: ctx.db,
    mailer,
    from: config.MAIL_FROM,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    messageSealKey: config.MESSAGE_SEAL_KEY,
    leaseMs: config.RESEND_TIMEOUT_MS * 2,
    log,
  });
  const send = async (log: Logger, job: Job, req: EmailRequest) => {
    try {
      const outcome = await deliverEmail(deps(log), req, { last: isLastAttempt(job) });
      emails.inc({ template: req.template, outcome: outcome.duplicate ? 'duplicate' : outcome.status });
      return outcome;
    } catch (err) {
      emails.inc({ template: req.template, outcome: outcomeOf(err) });
      throw err;
    }
  };

  // Auth seals addresses in messages (they sit in Redis); opened here, just before use.
  const address = (value: string): string => (isSealed(value) ? unseal(value, config.MESSAGE_SEAL_KEY) : value);

  return ctx.bus.consume(
    'notification',
    {
      'email.send': async ({ payload, log, job }) =>
        send(log, job, {
          idempotencyKey: payload.idempotencyKey,
          template: payload.template,
          ...(payload.to ? { to: address(payload.to) } : {}),
          ...(payload.userId ? { userId: payload.userId } : {}),
          ...(payload.locale ? { locale: payload.locale } : {}),
          data: payload.data,
          unknownContact: 'fail',
        }),
      'user.registered': async ({ tx, payload, message }) =>
        rememberContact(tx, { ...payload, email: address(payload.email), sourceAt: new Date(message.occurredAt) }),
      'user.updated': async ({ tx, payload, message }) =>
        rememberContact(tx, { ...payload, email: address(payload.email), sourceAt: new Date(message.occurredAt) }),
      'user.purge': async ({ tx, payload }) => purgeUser(tx, payload.userId),
      'ledger.low-balance': async ({ payload, message, log, job }) =>
        send(log, job, {
          // One email per event: the ledger decides when a balance crossing is worth telling.
          idempotencyKey: `low-balance:${message.id}`,
          template: 'low-balance',
          userId: payload.userId,
          data: { available: payload.available, threshold: payload.threshold },
          unknownContact: 'skip',
        }),
      'order.paid': async ({ payload, log, job }) =>
        send(log, job, {
          idempotencyKey: `purchase-receipt:${payload.orderId}`,
          template: 'purchase-receipt',
          userId: payload.userId,
          data: { orderId: payload.orderId, credits: payload.credits, amount: payload.amount, currency: payload.currency },
          unknownContact: 'skip',
        }),
      'generation.finished': async ({ payload, log, job }) => {
        if (!payload.refunded) return { status: 'ignored' };
        return send(log, job, {
          idempotencyKey: `generation-refunded:${payload.generationId}`,
          template: 'generation-refunded',
          userId: payload.userId,
          data: { generationId: payload.generationId },
          unknownContact: 'skip',
        });
      },
    },
    { concurrency: config.EMAIL_CONCURRENCY, ...opts },
  );
}
