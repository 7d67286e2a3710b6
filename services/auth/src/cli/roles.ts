import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { createDb } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import { queuePrefix } from '@imlab/queue';
import { ROLES, type Role } from '@imlab/contracts';
import { loadAuthConfig } from '../config.js';
import type { DB } from '../db.js';
import { normaliseEmail } from '../lib/email.js';
import * as accounts from '../accounts/accounts.repository.js';
import { tokenHashesOf } from '../sessions/sessions.repository.js';

const USAGE = `usage: pnpm --filter @imlab/auth roles <email> [role ...]   the list replaces the current one
       pnpm --filter @imlab/auth roles <email> +role -role ...   adds and removes, keeps the rest
       (roles: ${ROLES.join(' ')}; user is always kept; none given = show current)`;

/**
 * Shows or sets a person's roles: a plain list replaces them, `+role` / `-role` add and remove
 * (the two forms are not mixed). `user` is always kept. Cached session lookups are dropped so the
 * next internal token carries the new roles.
 */
export async function runRolesCommand(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const [rawEmail, ...wanted] = args.filter((a) => a !== '--');
  if (!rawEmail) {
    out(USAGE);
    return 2;
  }
  const signed = wanted.filter((r) => r.startsWith('+') || r.startsWith('-'));
  if (signed.length && signed.length !== wanted.length) {
    out(`either a list of roles or +role/-role changes, not both\n${USAGE}`);
    return 2;
  }
  const bad = wanted.filter((r) => !(ROLES as readonly string[]).includes(signed.length ? r.slice(1) : r));
  if (bad.length) {
    out(`unknown role(s): ${bad.join(', ')}\n${USAGE}`);
    return 2;
  }
  const config = loadAuthConfig(env);
  const db = createDb<DB>(databaseUrlFor(config.DATABASE_URL, config.DATABASE_NAME), { max: 1 });
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    const user = await accounts.findUserByEmail(db, normaliseEmail(rawEmail));
    if (!user) {
      out(`no account with email ${rawEmail}`);
      return 1;
    }
    if (wanted.length === 0) {
      out(`${user.email}: ${user.roles.join(' ')}`);
      return 0;
    }
    const removed = new Set(signed.filter((r) => r.startsWith('-')).map((r) => r.slice(1)));
    const listed = signed.length ? [...user.roles.filter((r) => !removed.has(r)), ...signed.filter((r) => r.startsWith('+')).map((r) => r.slice(1))] : wanted;
    const roles = [...new Set<Role>(['user', ...(listed as Role[])])];
    await accounts.setRoles(db, user.id, roles);
    const hashes = await tokenHashesOf(db, user.id);
    if (hashes.length) {
      await redis.connect();
      const prefix = queuePrefix(config.QUEUE_PREFIX);
      await redis.del(...hashes.map((h) => `${prefix}auth:session:${h}`));
    }
    out(`${user.email}: ${roles.join(' ')}`);
    return 0;
  } finally {
    redis.disconnect();
    await db.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runRolesCommand(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`));
}
