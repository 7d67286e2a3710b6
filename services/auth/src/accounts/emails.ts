import { seal, type Bus } from '@imlab/queue';
import type { EmailTemplate } from '@imlab/contracts';
import type { Db } from '@imlab/db';
import type { DB } from '../db.js';
import type { Config } from '../config.js';

/**
 * Links in emails are built from PUBLIC_BASE_URL only — never from the request's Host or
 * Origin, which an attacker controls (reset-link poisoning).
 */
export function publicLink(config: Config, path: string, params: Record<string, string> = {}): string {
  const base = new URL(config.PUBLIC_BASE_URL);
  // keep a base path (https://example.com/app) in front of the app path
  const u = new URL(`${base.pathname.replace(/\/$/, '')}${path}`, base.origin);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/**
 * A link that carries a single-use token: sealed (AES-GCM under MESSAGE_SEAL_KEY) so the token
 * never sits in plain text in the outbox table, Redis or BullMQ's retained jobs; only
 * notification opens it, just before rendering.
 */
export function sealedLink(config: Config, path: string, params: Record<string, string>): string {
  return seal(publicLink(config, path, params), config.MESSAGE_SEAL_KEY);
}

/** A person's address as messages carry it: sealed, opened only by notification. */
export function sealEmail(config: Pick<Config, 'MESSAGE_SEAL_KEY'>, email: string): string {
  return seal(email, config.MESSAGE_SEAL_KEY);
}

/** Queues an email through notification's inbox, in the caller's transaction. */
export async function sendEmail(
  config: Config,
  bus: Bus<DB>,
  tx: Db<DB>,
  mail: { template: EmailTemplate; user: { id: string; email: string; locale: 'en' | 'zh' }; data: Record<string, string | number | boolean | null>; idempotencyKey: string },
): Promise<void> {
  const { user, ...rest } = mail;
  // The user id goes along with the address: notification links the delivery to the person, so
  // their purge scrubs it even where it never learnt the contact (a lost user.registered).
  // The address travels sealed: the job sits in Redis (and BullMQ keeps it for days).
  await bus.send(tx, 'email.send', { ...rest, to: sealEmail(config, user.email), userId: user.id, locale: user.locale });
}
