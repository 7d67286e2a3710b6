import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The repository stands alone: a clone with nothing beside it must build, test and start. These
 * checks read every tracked file as text.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const SKIP_DIRS = new Set(['node_modules', '.git', '.tools', '.data', 'dist', '.build']);

function trackedFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\0')
      .filter(Boolean);
  } catch {
    // not a git checkout (an exported tree): every file but installed and generated ones
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(join(root, dir))) {
        if (SKIP_DIRS.has(name)) continue;
        const rel = dir ? `${dir}/${name}` : name;
        if (statSync(join(root, rel)).isDirectory()) walk(rel);
        else out.push(rel);
      }
    };
    walk('');
    return out;
  }
}

function textOf(file: string): string | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(join(root, file));
  } catch {
    return undefined; // deleted in the work tree
  }
  if (buf.length > 2_000_000 || buf.includes(0)) return undefined;
  return buf.toString('utf8');
}

// A relative path that climbs: one or more "../" and what follows up to a quote, space or bracket.
const CLIMB = /(?:\.\.\/)+[^\s'"`)\]>,;]*/g;
// Names of folders that live beside a checkout on some machine, never inside a clone.
const OUTSIDE_NAMES = [['shared', 'fixtures'].join('/'), ['steering', 'repo'].join(' '), ['/work', ''].join('/')];

/** Every place in `text` (a file at `file`) that points outside the repository root. */
export function outsideReferences(file: string, text: string, rootDir: string = root): string[] {
  const found: string[] = [];
  const base = dirname(resolve(rootDir, file));
  for (const m of text.matchAll(CLIMB)) {
    const target = resolve(base, m[0]);
    const rel = relative(rootDir, target);
    if (rel === '..' || rel.startsWith(`..${sep}`)) found.push(m[0]);
  }
  for (const name of OUTSIDE_NAMES) if (text.includes(name)) found.push(name);
  return found;
}

describe('the repository stands alone', () => {
  it('no tracked file refers to a path above the repository root', () => {
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(100);
    const offenders: string[] = [];
    for (const file of files) {
      if (file === 'pnpm-lock.yaml') continue; // registry metadata only
      const text = textOf(file);
      if (text === undefined) continue;
      for (const ref of outsideReferences(file, text)) offenders.push(`${file}: ${ref}`);
    }
    expect(offenders).toEqual([]);
  });

  it('the check itself catches a climbing path, an absolute neighbour and a mention of one', () => {
    const up = '../'.repeat(5);
    expect(outsideReferences('services/billing/test/support/x.ts', `new URL('${up}elsewhere/fixtures', import.meta.url)`)).toHaveLength(1);
    expect(outsideReferences('docs/a.md', `see [it](${'../'.repeat(2)}outside.md)`)).toHaveLength(1);
    expect(outsideReferences('docs/a.md', `see [it](../README.md) and ./x/../y`)).toEqual([]);
    expect(outsideReferences('e2e/test/a.ts', `import x from '../../services/billing/test/support/fake-stripe.js'`)).toEqual([]);
    expect(outsideReferences('README.md', `cp -r ${OUTSIDE_NAMES[0]} .`)).toHaveLength(1);
  });

  it('the Stripe example objects the fakes are built on are in the repository', () => {
    const dir = join(root, 'services/billing/test/fixtures/stripe');
    for (const name of ['checkout.session', 'charge', 'dispute', 'event', 'refund', 'payment_intent', 'balance_transaction', 'payout']) {
      const object = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { object?: string };
      expect(object.object, name).toBe(name);
    }
  });
});

describe('one Node version', () => {
  const major = (v: string | undefined) => /(\d+)/.exec(v ?? '')?.[1];

  it('the node package, engines, .node-version, the Dockerfile and @types/node name the same major', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };
    const pinned = pkg.devDependencies.node!;
    expect(pinned, 'the node devDependency is an exact version').toMatch(/^\d+\.\d+\.\d+$/);
    expect(readFileSync(join(root, '.node-version'), 'utf8').trim()).toBe(pinned);
    const want = major(pinned);
    expect(major(pkg.engines.node), 'engines').toBe(want);
    expect(major(pkg.devDependencies['@types/node']), '@types/node').toBe(want);
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const args = Object.fromEntries([...dockerfile.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? ''));
    const nodeImages = froms.filter((f) => f.startsWith('node:'));
    expect(nodeImages.length, 'every stage runs on the node image').toBe(froms.length);
    for (const from of nodeImages) {
      expect(major(from.slice('node:'.length)), from).toBe(want);
      expect(from, 'base image pinned by digest').toMatch(/@sha256:[0-9a-f]{64}$/);
    }
    for (const file of trackedFiles().filter((f) => f.endsWith('package.json'))) {
      const types = (JSON.parse(readFileSync(join(root, file), 'utf8')) as { devDependencies?: Record<string, string>; dependencies?: Record<string, string> });
      const v = types.devDependencies?.['@types/node'] ?? types.dependencies?.['@types/node'];
      if (v) expect(major(v), `${file} @types/node`).toBe(want);
    }
  });

  it('the tests run on that version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    expect(major(process.versions.node)).toBe(major(pkg.devDependencies.node));
  });
});
