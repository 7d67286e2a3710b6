// Runs every service's `migrate` command in turn (creates each database if missing).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const service of ['auth', 'credits-ledger', 'generation', 'billing', 'notification']) {
  const entry = `services/${service}/src/migrate.ts`;
  if (!existsSync(`${root}/${entry}`)) continue;
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry], { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
