// Builds what ships: every process's entry point compiled to JavaScript and run with plain `node`.
//
// 1. esbuild bundles each entry point (every service's main and migrate, the render worker, the
//    gateway, the roles CLI) and each migration file into release/dist/, keeping the source
//    layout (so `new URL('../migrations', import.meta.url)` still finds the migrations). The
//    workspace's own packages (@imlab/*) are compiled in; every other package stays an import.
// 2. The packages the bundles import must be exactly release/package.json's dependencies: the
//    build fails naming any difference, so the shipped node_modules can neither miss nor carry one.
// 3. The web app (web/, Vite) is built into release/dist/web: the gateway serves it from there
//    (WEB_DIST_DIR; the image sets /app/dist/web).
// 4. `pnpm deploy --prod` installs release/ (its dist/ and those dependencies, from the
//    workspace's lockfile) into .build/app/: the folder the Docker image copies, and the one
//    e2e/test/production-build.test.ts starts processes from.
//
// Usage: `pnpm run build` (both steps) or `pnpm run build --bundle-only`.
import { build, type Metafile, type Plugin } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { globSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const releaseDir = `${root}release`;
const outDir = `${releaseDir}/dist`;
export const APP_DIR = `${root}.build/app`;

const entryPoints = [
  'gateway/src/main.ts',
  'gateway/src/serve.ts',
  ...globSync('services/*/src/{main,serve,migrate,worker,worker-serve}.ts', { cwd: root }),
  'services/auth/src/cli/roles.ts',
  'scripts/migrate.ts',
  ...globSync('services/*/migrations/*.ts', { cwd: root }),
].sort();

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** The package a bare import names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

/** Our own packages are compiled in; every third-party package stays an import, resolved at run time. */
const thirdPartyExternal: Plugin = {
  name: 'third-party-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@imlab/') || builtins.has(args.path)) return undefined;
      return { path: args.path, external: true };
    });
  },
};

function importedPackages(meta: Metafile): Set<string> {
  const used = new Set<string>();
  for (const output of Object.values(meta.outputs)) {
    for (const imp of output.imports) if (imp.external && !builtins.has(imp.path)) used.add(packageOf(imp.path));
  }
  return used;
}

rmSync(outDir, { recursive: true, force: true });
const result = await build({
  entryPoints,
  outbase: root,
  outdir: outDir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node26',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [thirdPartyExternal],
  metafile: true,
  logLevel: 'warning',
});

/**
 * Packages no bundle imports that an imported package needs at run time: required peers, which the
 * deploy does not install by itself (auto-install-peers is off, see below).
 */
const RUNTIME_PEERS: Record<string, string> = {
  // @bull-board/api resolves it (require.resolve('@bull-board/ui/package.json')) for the board's static files.
  '@bull-board/ui': '@bull-board/api',
};

const used = importedPackages(result.metafile);
const declared = new Set(Object.keys((JSON.parse(readFileSync(`${releaseDir}/package.json`, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}));
const missing = [...used, ...Object.entries(RUNTIME_PEERS).filter(([, by]) => used.has(by)).map(([peer]) => peer)].filter((p) => !declared.has(p)).sort();
const unused = [...declared].filter((p) => !used.has(p) && !(p in RUNTIME_PEERS && used.has(RUNTIME_PEERS[p]!))).sort();
if (missing.length || unused.length) {
  console.error(
    [
      'release/package.json does not match what the bundles import:',
      ...(missing.length ? [`  imported but not declared: ${missing.join(', ')}`] : []),
      ...(unused.length ? [`  declared but never imported: ${unused.join(', ')}`] : []),
    ].join('\n'),
  );
  process.exit(1);
}
console.log(`› bundled ${entryPoints.length} entry points into release/dist (${used.size} packages imported)`);

// Its own output folder, so a build here never races web/dist (tests and start.sh build that one).
try {
  execFileSync('pnpm', ['--filter', '@imlab/web', 'exec', 'vite', 'build', '--logLevel', 'warn', '--emptyOutDir', '--outDir', `${outDir}/web`], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    // React's production build whatever the caller's NODE_ENV (a test runner sets `test`).
    env: { ...process.env, NODE_ENV: 'production' },
  });
} catch {
  console.error('the web app did not build (pnpm --filter @imlab/web exec vite build)');
  process.exit(1);
}
console.log('› built the web app into release/dist/web');

if (!process.argv.includes('--bundle-only')) {
  rmSync(APP_DIR, { recursive: true, force: true });
  // Optional peers (typescript for valibot, @types/node for sharp and stripe) are not installed:
  // the workspace root's devDependencies would otherwise satisfy them and ship 27 MB of compilers.
  const args = ['--filter', '@imlab/release', '--prod', '--prefer-offline', '--config.resolve-peers-from-workspace-root=false', '--config.auto-install-peers=false', 'deploy', '--legacy', APP_DIR];
  try {
    execFileSync('pnpm', args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    console.error(`pnpm ${args.join(' ')} failed`);
    process.exit(1);
  }
  console.log('› production output in .build/app (node dist/<entry>.js)');
}
