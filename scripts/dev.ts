// Starts the whole system for local development: migrates every service database, then runs
// every service, one render worker and the gateway as child processes (the sources, through Node's type stripping), waits until every
// one of them answers ready and prints the gateway's URL. Ctrl-C (or SIGTERM) stops everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Locally nobody can reach Stripe, so a new account gets a few credits to try generating with.
// The internal secret is made for this run (every child gets the same one), never a constant.
const env = {
  ...process.env,
  NODE_ENV: process.env.NODE_ENV ?? 'development',
  SIGNUP_BONUS_CREDITS: process.env.SIGNUP_BONUS_CREDITS ?? '20',
  INTERNAL_API_TOKEN: process.env.INTERNAL_API_TOKEN ?? randomBytes(32).toString('base64url'),
};
const gatewayPort = Number(process.env.GATEWAY_PORT ?? 8080);

interface Proc {
  name: string;
  entry: string;
  /** The port its /readyz answers on (each service's default; the variable that overrides it). */
  port: number;
  portVar: string;
}

const portOf = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const services: Proc[] = [
  { name: 'auth', entry: 'services/auth/src/main.ts', port: 4001, portVar: 'PORT' },
  { name: 'credits-ledger', entry: 'services/credits-ledger/src/main.ts', port: 4002, portVar: 'PORT' },
  { name: 'generation', entry: 'services/generation/src/main.ts', port: 4003, portVar: 'PORT' },
  { name: 'billing', entry: 'services/billing/src/main.ts', port: 4004, portVar: 'PORT' },
  { name: 'notification', entry: 'services/notification/src/main.ts', port: 4005, portVar: 'PORT' },
];
const processes: Proc[] = [
  ...services,
  { name: 'render-worker', entry: 'services/generation/src/worker.ts', port: portOf('WORKER_PORT', 4103), portVar: 'WORKER_PORT' },
  { name: 'gateway', entry: 'gateway/src/main.ts', port: gatewayPort, portVar: 'GATEWAY_PORT' },
];

const COLORS = [36, 33, 35, 32, 34, 31, 37];
const children = new Map<string, ChildProcess>();
let stopping = false;

function run(name: string, entry: string, color: number, onExit?: (code: number | null) => void, extraEnv: Record<string, string> = {}): ChildProcess {
  // Own process group: Ctrl-C reaches only this script, which then stops each child once with
  // SIGTERM (a child that saw the terminal's SIGINT too would take the second signal as "exit now").
  // The sources run as they are: Node strips the types (scripts/ts-resolve.mjs maps `./x.js` imports
  // to `./x.ts` and turns V8's compile cache on).
  const child = spawn(process.execPath, ['--import', './scripts/ts-resolve.mjs', entry], { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const tag = `\x1b[${color}m${name.padEnd(14)}\x1b[0m│ `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${tag}${line}\n`));
  }
  child.on('exit', (code, signal) => onExit?.(code ?? (signal ? 128 : null)));
  return child;
}

async function migrate(): Promise<void> {
  for (const [i, s] of services.entries()) {
    const entry = s.entry.replace('main.ts', 'migrate.ts');
    if (!existsSync(`${root}/${entry}`)) continue;
    const code = await new Promise<number | null>((resolve) => run(`${s.name}:migrate`, entry, COLORS[i % COLORS.length]!, resolve));
    if (code !== 0) throw new Error(`migrations of ${s.name} failed (exit ${code})`);
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

let stopped: Promise<never> | undefined;

/** Stops every child once (SIGTERM, SIGKILL after 15 s) and exits; later calls wait for the same stop. */
function stop(code: number): Promise<never> {
  stopped ??= (async () => {
    stopping = true;
    process.stdout.write('\nstopping…\n');
    // 'close' comes after the child's output is drained, so its last log lines are printed too
    const exits = [...children.values()].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('close', r))));
    for (const c of children.values()) c.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of children.values()) c.kill('SIGKILL');
    }, 15_000);
    await Promise.all(exits);
    clearTimeout(timer);
    process.exit(code);
  })();
  return stopped;
}

process.on('SIGINT', () => void stop(0));
process.on('exit', () => {
  for (const c of children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
process.on('SIGTERM', () => void stop(0));

try {
  await migrate();
} catch (err) {
  console.error(String((err as Error).message));
  process.exit(1);
}
for (const [i, p] of processes.entries()) {
  if (!existsSync(`${root}/${p.entry}`)) continue;
  children.set(
    p.name,
    run(
      p.name,
      p.entry,
      COLORS[i % COLORS.length]!,
      (code) => {
        if (!stopping) {
          console.error(`${p.name} exited (code ${code}); stopping everything`);
          void stop(1);
        }
      },
      { [p.portVar]: String(p.port) },
    ),
  );
}
// Ready means every process answers its /readyz (its database and Redis answer), not just the
// gateway: the gateway's own /readyz stays up while one service is down (see docs/operations.md).
const waits = processes.map(async (p) => ({ name: p.name, ready: await waitReady(`http://127.0.0.1:${p.port}/readyz`, 120_000) }));
const notReady = (await Promise.all(waits)).filter((w) => !w.ready).map((w) => w.name);
if (notReady.length) {
  console.error(`not ready within 120 s: ${notReady.join(', ')}`);
  await stop(1);
}
process.stdout.write(`\n  imagemakerlab is running: http://localhost:${gatewayPort}  (API docs: http://localhost:${gatewayPort}/docs)\n  Emails land in .data/mailbox/. Press Ctrl-C to stop.\n\n`);
