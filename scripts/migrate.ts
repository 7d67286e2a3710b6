// Runs every service's `migrate` command in turn (creates each database if missing). Works from
// the source (`pnpm run migrate`: Node strips the types, scripts/ts-resolve.mjs maps the imports) and compiled (`node dist/scripts/migrate.js` in the
// image): it runs the sibling migrate entry of the same kind as itself.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = import.meta.url.endsWith('.js');
for (const service of ['auth', 'credits-ledger', 'generation', 'billing', 'notification']) {
  const entry = fileURLToPath(new URL(`../services/${service}/src/migrate.${compiled ? 'js' : 'ts'}`, import.meta.url));
  if (!existsSync(entry)) continue;
  const r = spawnSync(process.execPath, [...(compiled ? [] : ['--import', fileURLToPath(new URL('./ts-resolve.mjs', import.meta.url))]), entry], { stdio: 'inherit', env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
