import { spawnSync } from 'node:child_process';

const onPath = (binary: string) => spawnSync(binary, ['--help'], { stdio: 'ignore' }).error === undefined;

/**
 * A command-line tool from one of Debian's packages (promtool from `prometheus`): installed here
 * when missing and we are root, as the browser tests do with Chromium; otherwise the test fails
 * saying what to install (it never skips).
 */
export function debianTool(binary: string, pkg: string): string {
  const apt = (...args: string[]) => spawnSync('apt-get', args, { stdio: 'ignore', timeout: 900_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  if (!onPath(binary) && process.getuid?.() === 0) {
    // the package lists may be missing or old on a fresh machine: update once, then try again
    if (!apt('install', '-y', '-q', '--no-install-recommends', pkg) && apt('update', '-q')) apt('install', '-y', '-q', '--no-install-recommends', pkg);
  }
  if (!onPath(binary)) throw new Error(`this test needs ${binary}: install it with \`apt-get install -y ${pkg}\` (as root)`);
  return binary;
}

/**
 * kustomize, as `kubectl kustomize` (built into kubectl) or a standalone `kustomize`: the same
 * build an apply does, components and replacements included.
 */
export function kustomizeBuild(dir: string): string {
  const candidates: [string, string[]][] = [
    ['kubectl', ['kustomize', dir]],
    ['kustomize', ['build', dir]],
  ];
  for (const [binary, args] of candidates) {
    if (!onPath(binary)) continue;
    const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${binary} ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }
  throw new Error('the manifest tests need kustomize: kubectl (its `kubectl kustomize`) or a kustomize binary on PATH');
}
