import { loadConfig, baseEnv, port, str, url } from '@imlab/config';

export const configSpec = {
  ...baseEnv,
  PORT: port({ default: 4005 }),
  DATABASE_NAME: str({ default: 'imlab_notification' }),
  RESEND_API_KEY: str({ default: '' }),
  RESEND_BASE_URL: url({ default: 'https://api.resend.com' }),
  MAIL_FROM: str({ default: 'imagemakerlab <hello@imagemakerlab.local>' }),
  MAILBOX_DIR: str({ default: '.data/mailbox' }),
};

export type Config = ReturnType<typeof loadNotificationConfig>;

export function loadNotificationConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig('notification', configSpec, env);
}
