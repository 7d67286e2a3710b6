import { loadConfig, baseEnv, num, port, str, url, listenPort, messageSealKey } from '@imlab/config';
import { isResendWebhookSecret } from './webhooks/signature.js';

export const configSpec = {
  ...baseEnv,
  MESSAGE_SEAL_KEY: messageSealKey,
  PORT: port({ default: 4005 }),
  /** /metrics, on its own internal listener (never the public PORT). */
  METRICS_PORT: listenPort({ default: 9405 }),
  DATABASE_NAME: str({ default: 'imlab_notification' }),
  RESEND_API_KEY: str({ default: '', desc: 'empty: emails go to the development mailbox (MAILBOX_DIR) instead of Resend' }),
  RESEND_BASE_URL: url({ default: 'https://api.resend.com' }),
  RESEND_WEBHOOK_SECRET: str({ default: '', desc: 'whsec_… signing secret of the Resend webhook; empty: the webhook answers 503' }),
  RESEND_TIMEOUT_MS: num({ default: 15_000, desc: 'per request to Resend; a send is leased for twice this long' }),
  MAIL_FROM: str({ devDefault: 'imagemakerlab <hello@imagemakerlab.local>', desc: 'sender, on a domain verified with Resend' }),
  MAILBOX_DIR: str({ default: '.data/mailbox' }),
  EMAIL_CONCURRENCY: num({ default: 4, desc: 'inbox messages processed at once; the pool is sized from it' }),
};

export type Config = ReturnType<typeof loadNotificationConfig>;

export function loadNotificationConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig('notification', configSpec, env, (config, problems) => {
    // The file mailbox is for development only.
    if (config.NODE_ENV === 'production' && !config.RESEND_API_KEY) problems.RESEND_API_KEY = 'is required in production (the file mailbox is for development only)';
    if (config.RESEND_WEBHOOK_SECRET && !isResendWebhookSecret(config.RESEND_WEBHOOK_SECRET)) {
      problems.RESEND_WEBHOOK_SECRET = 'is not a Resend (Svix) signing secret: expected whsec_ followed by base64';
    }
  });
}

/**
 * The Postgres pool: each email job holds its inbox transaction and briefly needs a second
 * connection for the delivery state (see delivery.service.ts), so the pool must outnumber the
 * concurrency. k8s's connection budget is checked against it (e2e/test/deploy-files.test.ts).
 */
export const notificationPoolSize = (config: Pick<Config, 'EMAIL_CONCURRENCY'>) => config.EMAIL_CONCURRENCY * 2 + 2;
