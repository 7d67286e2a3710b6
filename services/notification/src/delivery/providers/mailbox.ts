import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@imlab/logger';
import type { Mailer, OutgoingEmail } from './provider.js';

/**
 * Development only (no RESEND_API_KEY): each email becomes `<deliveryId>.html` and `.txt` under
 * MAILBOX_DIR, and one log line names the file and its subject, so a person running locally can
 * open it and click the verification link. The link itself (a sign-in token) is never logged, not
 * even here. Files are named by delivery id, so a retry overwrites instead of adding a second copy.
 */
export class MailboxMailer implements Mailer {
  readonly name = 'mailbox';

  private readonly dir: string;
  private readonly logger: Logger;
  constructor(
    dir: string,
    logger: Logger,
  ) {
    this.dir = dir;
    this.logger = logger;
  }

  async send(mail: OutgoingEmail): Promise<{ providerId: string }> {
    await mkdir(this.dir, { recursive: true });
    const base = path.resolve(this.dir, mail.deliveryId);
    const headers = `From: ${mail.from}\nTo: ${mail.to}\nSubject: ${mail.email.subject}\nTemplate: ${mail.email.template} (${mail.email.locale})\n\n`;
    await writeFile(`${base}.html`, mail.email.html, 'utf8');
    await writeFile(`${base}.txt`, headers + mail.email.text, 'utf8');
    this.logger.info(
      { template: mail.email.template, subject: mail.email.subject, file: `${base}.txt` },
      'development mailbox: email written',
    );
    return { providerId: `mailbox:${mail.deliveryId}` };
  }
}
