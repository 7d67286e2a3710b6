import type { Logger } from '@imlab/logger';
import type { Config } from '../../config.js';
import { MailboxMailer } from './mailbox.js';
import type { Mailer } from './provider.js';
import { ResendMailer } from './resend.js';

export type { Mailer } from './provider.js';

/** Resend when RESEND_API_KEY is set, the development mailbox otherwise (refused in production). */
export function createMailer(config: Config, logger: Logger): Mailer {
  if (config.RESEND_API_KEY) {
    return new ResendMailer({ apiKey: config.RESEND_API_KEY, baseUrl: config.RESEND_BASE_URL, timeoutMs: config.RESEND_TIMEOUT_MS });
  }
  if (config.NODE_ENV === 'production') throw new Error('notification: RESEND_API_KEY is required in production (the file mailbox is for development only)');
  logger.warn({ dir: config.MAILBOX_DIR }, 'RESEND_API_KEY not set: emails go to the development mailbox');
  return new MailboxMailer(config.MAILBOX_DIR, logger);
}
