// Builds web/dist for the tests that need it (the browser test, the size budget) when it is
// missing or older than its sources. Test files run in parallel processes: a lock folder makes
// one of them build while the others wait for it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('..', import.meta.url));
export const WEB_DIST = path.join(WEB_DIR, 'dist');
const LOCK = path.join(WEB_DIR, 'node_modules', '.cache', 'test-build.lock');

/** The newest modification time of the web app's sources (src, public, index.html, configs). */
function newestSource(): number {
  let newest = 0;
  const visit = (p: string) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) for (const name of readdirSync(p)) visit(path.join(p, name));
    else newest = Math.max(newest, s.mtimeMs);
  };
  for (const p of ['src', 'public', 'index.html', 'vite.config.ts', 'package.json', 'tsconfig.json']) visit(path.join(WEB_DIR, p));
  return newest;
}

export function webBuildIsStale(): boolean {
  const index = path.join(WEB_DIST, 'index.html');
  return !existsSync(index) || statSync(index).mtimeMs < newestSource();
}

/** web/dist, built now if it is missing or stale. */
export async function ensureWebBuild(): Promise<string> {
  mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another test process is building; a lock left by a killed run is taken over after 3 minutes.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 180_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited 3 minutes for another test's web build (${LOCK})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (webBuildIsStale()) {
      const vite = path.join(WEB_DIR, 'node_modules', 'vite', 'bin', 'vite.js');
      // NODE_ENV=production: under vitest it is `test`, and Vite would bundle React's development build.
      const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB_DIR, encoding: 'utf8', timeout: 170_000, env: { ...process.env, NODE_ENV: 'production' } });
      if (r.status !== 0) throw new Error(`the web app did not build (${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
  return WEB_DIST;
}
