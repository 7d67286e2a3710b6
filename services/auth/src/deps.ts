import type { Kysely } from 'kysely';
import type { Redis } from 'ioredis';
import type { Bus } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import type { Config } from './config.js';
import type { DB } from './db.js';
import type { KeyRing } from './keys/keys.js';
import type { Background } from './lib/background.js';

/** What the services of auth share; built once in app.ts. */
export interface AuthDeps {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  bus: Bus<DB>;
  /** The bus's connection; every key is under `keyPrefix` (hash-tagged, per test file in tests). */
  redis: Redis;
  keyPrefix: string;
  keys: KeyRing;
  background: Background;
}
