// What every browser test file shares: Debian's Chromium under playwright-core, the real system
// (every service, a render worker, the gateway serving web/dist, a Stripe fake behind billing) at
// the gateway's own origin, browser contexts that record what a page must not do (console errors,
// uncaught errors, requests to other origins), axe-core, screenshots and the app's own texts.
import { spawn, spawnSync } from 'node:child_process';
import { crc32, deflateSync } from 'node:zlib';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser as Chromium, type BrowserContext, type Page } from 'playwright-core';
import type * as Axe from 'axe-core';
import { expect } from 'vitest';
import { freePort, TS_NODE_ARGS } from '@imlab/testing';
import { ensureWebBuild, WEB_DIR } from '../../web/test/build.js';
import { startFakeStripe } from '../../services/billing/test/support/fake-stripe.js';
import { Browser, signUpVerified, until } from './browser.js';
import { startSystem, WEBHOOK_SECRET, type System } from './system.js';
import { loadContract, type ContractChecker } from './contract.js';

// What the functions given to page.evaluate use: they run in the page; typed here (Node's types
// have no DOM).
export interface PageElement {
  id: string;
  tagName: string;
  className: string;
  innerText: string;
  matches(selector: string): boolean;
  getBoundingClientRect(): { width: number; height: number; top: number; left: number; right: number };
}
declare const document: { documentElement: { scrollWidth: number }; activeElement: PageElement | null };

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const SCREENSHOTS = path.join(root, 'e2e/.output/screenshots');
/**
 * Debian's headless shell (package chromium-headless-shell: the same Chromium without the desktop
 * browser's UI, the build Playwright itself runs headless); the full browser (package chromium)
 * when only that is there.
 */
const HEADLESS_SHELL = '/usr/bin/chromium-headless-shell';
const FULL_CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const APT_LOCK = path.join(os.tmpdir(), 'imlab-apt.lock');
export const WIDTHS = [375, 1280] as const;
export const LOCALES = ['en', 'zh'] as const;
export type Locale = (typeof LOCALES)[number];

/** Debian's Chromium (its headless shell); installed here when missing and we are root, else the tests fail saying so. */
export function findChromium(): string {
  if (process.env.CHROMIUM_PATH) {
    if (!existsSync(process.env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH names no file: ${process.env.CHROMIUM_PATH}`);
    return process.env.CHROMIUM_PATH;
  }
  // Every browser file may get here at once on a fresh machine: one apt at a time (the others wait on
  // the lock, then find the package installed), and apt itself waits for dpkg's lock.
  const apt = (...args: string[]) =>
    spawnSync('flock', [APT_LOCK, 'apt-get', '-o', 'DPkg::Lock::Timeout=900', ...args], { stdio: 'ignore', timeout: 900_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  const isRoot = process.getuid?.() === 0;
  if (!existsSync(HEADLESS_SHELL) && isRoot) {
    // the package lists may be missing or old on a fresh machine: update once, then try again
    if (!apt('install', '-y', '-q', 'chromium-headless-shell') && apt('update', '-q')) apt('install', '-y', '-q', 'chromium-headless-shell');
  }
  const found = [HEADLESS_SHELL, FULL_CHROMIUM].find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `the browser tests need Chromium at ${HEADLESS_SHELL} or ${FULL_CHROMIUM}: install it with \`apt-get install -y chromium-headless-shell\` (as root), or set CHROMIUM_PATH to a Chromium binary` +
        (isRoot ? ' (apt-get install was tried and did not provide it)' : ''),
    );
  }
  // Chinese screenshots need a CJK font; without one the text is boxes (the checks still hold).
  const fonts = spawnSync('fc-list', [':lang=zh'], { encoding: 'utf8' });
  if (isRoot && fonts.status === 0 && fonts.stdout.trim() === '') apt('install', '-y', '-q', 'fonts-noto-cjk');
  return found;
}

export type FakeStripe = Awaited<ReturnType<typeof startFakeStripe>>;

export type Texts = Record<string, unknown>;
/** The app's own texts: web/src/i18n/locales/<locale>/<ns>.json. */
export function texts(locale: Locale, ns: string): Texts {
  return JSON.parse(readFileSync(path.join(WEB_DIR, 'src/i18n/locales', locale, `${ns}.json`), 'utf8')) as Texts;
}
/**
 * One text by its dotted key; `vars` fills {{placeholders}}. A `{{name, number}}` placeholder is
 * grouped by thousands as both languages write it (1,500), written out here rather than with Intl
 * so that the tests do not share the app's way of formatting.
 */
export function at(obj: Texts, key: string, vars: Record<string, string | number> = {}): string {
  const v = key.split('.').reduce<unknown>((o, k) => (o as Texts | undefined)?.[k], obj);
  if (typeof v !== 'string') throw new Error(`no text at ${key}`);
  return v.replace(/\{\{(\w+)(, number)?\}\}/g, (whole, name: string, asNumber?: string) => {
    const value = vars[name];
    if (value === undefined) return whole;
    return asNumber && typeof value === 'number' ? grouped(value) : String(value);
  });
}

/** 1500 → "1,500"; -12345 → "-12,345" (counts: whole numbers only). */
export function grouped(n: number): string {
  if (!Number.isInteger(n)) throw new Error(`grouped() takes whole numbers: ${n}`);
  const digits = String(Math.abs(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${digits}` : digits;
}

/** What a page did that it must not: console errors, uncaught errors, requests to other origins. */
export interface Watch {
  problems: string[];
}

export interface WebSystem {
  sys: System;
  contract: ContractChecker;
  chromium: Chromium;
  /** The Stripe fake, with its hosted Checkout stand-in. */
  stripe: FakeStripe;
  /** A person of the API (the generated client on a cookie jar), from their own loopback address. */
  person(ip: string): Browser;
  /** A signed-up, verified, signed-in person; their session cookie can be given to a browser context. */
  signedUp(ip: string, email: string): Promise<Browser>;
  stop(): Promise<void>;
}

/**
 * web/dist built, the real system at its own origin (the links in emails and Stripe's return pages
 * open the app, and the page's writes are same-origin), a Stripe fake, Chromium.
 */
export async function startWebSystem(label: string, env: Record<string, string> = {}): Promise<WebSystem> {
  const executablePath = findChromium();
  const dist = await ensureWebBuild();
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Stripe Checkout's page is served by the fake too (a browser can open it); its Pay sends the
  // signed webhook to this system's gateway.
  const stripe = await startFakeStripe({ hostedCheckout: true });
  const sys = await startSystem(
    label,
    {
      WEB_DIST_DIR: dist,
      STRIPE_API_BASE: stripe.base,
      STRIPE_SECRET_KEY: 'sk_test_web_0123456789',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      // Chromium's pages all come from 127.0.0.1: one file's people together sign in, change
      // passwords and open emailed links far more often a minute than one person would. The strict
      // limit itself is tested in gateway/test/rate-limit.security.test.ts.
      RATE_LIMIT_AUTH: '60/1m',
      ...env,
    },
    { selfOrigin: true },
  );
  stripe.deliverWebhooksTo(`${sys.gatewayUrl}/v1/billing/webhook`, WEBHOOK_SECRET);
  // the API calls the tests make for their people are checked against the served document too
  const contract = await loadContract(sys.gatewayUrl, { outside: { '/admin/queues': 'the ops queue board, a web page of the gateway' } });
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const web: WebSystem = {
    sys,
    contract,
    chromium: browser,
    stripe,
    person: (ip) => new Browser(() => ({ sys, contract }), ip),
    async signedUp(ip, email) {
      const b = web.person(ip);
      await signUpVerified(sys, b, email);
      // The sign-up bonus reaches the ledger through the queue after the verification: a test that
      // spends at once would race it on a busy machine.
      await until(async () => ((await b.api.GET('/v1/credits/balance')).data?.available ?? 0) >= Number(sys.env.SIGNUP_BONUS_CREDITS ?? 0) || undefined, 30_000);
      return b;
    },
    async stop() {
      await browser.close();
      await sys.stop();
      await stripe.close();
      expect(contract.mismatches).toEqual([]);
    },
  };
  return web;
}

export interface ContextOptions {
  width: number;
  /** The `locale` cookie, as the language switch sets it. */
  locale?: Locale;
  /** The browser's own language (Accept-Language, navigator.languages). */
  browserLanguage?: string;
  /** Another gateway of the same system (withGateway). */
  base?: string;
  /** Signed in as this person (their session cookie). */
  as?: Browser;
  /** Addresses other than the gateway's this context may request (a stand-in for Stripe Checkout). */
  allowOrigins?: string[];
  /** What the test makes the page do on purpose (a failure it answers itself): not counted as a problem. */
  intended?: (problem: string) => boolean;
}

/** A fresh browser context (its own cookies) and page, watched for what no page may do. */
export async function newContext(web: WebSystem, opts: ContextOptions): Promise<{ context: BrowserContext; page: Page; watch: Watch }> {
  const base = opts.base ?? web.sys.gatewayUrl;
  const context = await web.chromium.newContext({ viewport: { width: opts.width, height: 900 }, locale: opts.browserLanguage ?? 'en-US' });
  if (opts.locale) await context.addCookies([{ name: 'locale', value: opts.locale, url: base }]);
  if (opts.as) await context.addCookies([{ name: 'imlab_sid', value: opts.as.cookies.get('imlab_sid')!, url: base, httpOnly: true, sameSite: 'Lax' }]);
  const page = await context.newPage();
  const watch: Watch = { problems: [] };
  const origin = new URL(base).origin;
  const allowed = new Set([origin, ...(opts.allowOrigins ?? []).map((o) => new URL(o).origin)]);
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    // Chromium logs the status of every refused fetch. A refusal the page expects and shows
    // (signed out: GET /v1/me is 401; a wrong password; a 402 or 422 shown on the form) is not an
    // error of the page: those are the 4xx answers. A 5xx always is.
    if (/status of 4\d\d/.test(msg.text()) && msg.location().url.startsWith(`${origin}/v1/`)) return;
    // An address no page has is answered 404 (with the app's "page not found"): the document's own status.
    if (/status of 404/.test(msg.text()) && msg.location().url === page.url()) return;
    const problem = `console ${msg.type()}: ${msg.text()} (${msg.location().url})`;
    if (!opts.intended?.(problem)) watch.problems.push(problem);
  });
  page.on('pageerror', (err) => watch.problems.push(`page error: ${err.message}`));
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith('data:') && !url.startsWith('blob:') && !allowed.has(new URL(url).origin)) watch.problems.push(`request to another origin: ${url}`);
  });
  return { context, page, watch };
}

export interface View {
  context: BrowserContext;
  page: Page;
  watch: Watch;
}

/**
 * `check` on a fresh browser context and page (newContext); then nothing the page must not do
 * happened (watch.problems is empty); the context closed either way. Answers what `check` answers.
 */
export async function inContext<T>(web: WebSystem, opts: ContextOptions, check: (view: View) => Promise<T>): Promise<T> {
  const view = await newContext(web, opts);
  try {
    const result = await check(view);
    expect(view.watch.problems).toEqual([]);
    return result;
  } finally {
    await view.context.close();
  }
}

/**
 * Opens a page and waits until it has its heading and the header knows who is there (GET /v1/me
 * answered); answers the HTTP status of the document.
 */
export async function visit(page: Page, base: string, p: string): Promise<number | undefined> {
  const response = await page.goto(`${base}${p}`, { waitUntil: 'load' });
  await page.locator('main h1').first().waitFor({ state: 'visible' });
  await page.locator('.sign-in, .account-button').first().waitFor({ state: 'visible' });
  return response?.status();
}

/**
 * Largest Contentful Paint of the page as loaded (ms since navigation start), read in the page from
 * the browser's own `largest-contentful-paint` entries (buffered), and what element it was.
 */
export async function largestContentfulPaint(page: Page): Promise<{ ms: number; element: string }> {
  return page.evaluate(
    () =>
      new Promise<{ ms: number; element: string }>((resolve) => {
        type Entry = { startTime: number; element?: { tagName: string; className: string } | null };
        // the last entry the browser reported before input is the LCP; wait a little for late images
        const entries: Entry[] = [];
        new (globalThis as unknown as { PerformanceObserver: new (cb: (list: { getEntries(): Entry[] }) => void) => { observe(o: object): void } }).PerformanceObserver((list) => entries.push(...list.getEntries())).observe({
          type: 'largest-contentful-paint',
          buffered: true,
        });
        setTimeout(() => {
          const last = entries.at(-1);
          resolve({ ms: Math.round(last?.startTime ?? -1), element: last?.element ? `${last.element.tagName.toLowerCase()}.${last.element.className}` : 'none' });
        }, 1000);
      }),
  );
}

/**
 * axe-core's minified build (650 kB). The package's `source` (what @axe-core/playwright put into the
 * page, twice per check) is the 1.5 MB unminified one: sending and compiling it took ~0.4 s a time,
 * twice axe's own run on our pages.
 */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations on the page as it is now: axe put into the document
 * once (a client-side navigation keeps it), run in the page itself over the whole document, only
 * violations carried back. Our pages have no frames (a frame would need axe put into it too).
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(
    (options) => (globalThis as unknown as { axe: typeof Axe }).axe.run((globalThis as unknown as { document: Axe.ElementContext }).document, options).then((r) => r.violations),
    { resultTypes: ['violations'] } satisfies Axe.RunOptions,
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/**
 * The checks every screen of a journey gets: no wider than the window, a full-page screenshot
 * (e2e/.output/screenshots/<locale>-<width>-<name>.png) and no serious axe violation.
 */
export async function screen(page: Page, name: string, opts: { locale: Locale; width: number }): Promise<void> {
  expect(await page.evaluate(() => document.documentElement.scrollWidth), `${name}: wider than the window`).toBeLessThanOrEqual(opts.width);
  await page.screenshot({ path: path.join(SCREENSHOTS, `${opts.locale}-${opts.width}-${name}.png`), fullPage: true });
  expect(await seriousViolations(page), name).toEqual([]);
}

/**
 * A second gateway in front of the same services, with settings of its own, on a port known
 * before it starts (so its own origin can be an allowed origin for the browser's writes).
 */
export async function withGateway(web: WebSystem, env: (base: string) => Record<string, string>, run: (base: string) => Promise<void>): Promise<void> {
  const port = await freePort();
  const metricsPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gateway = spawn(process.execPath, [...TS_NODE_ARGS, 'gateway/src/main.ts'], {
    cwd: root,
    env: { ...web.sys.env, GATEWAY_PORT: String(port), METRICS_PORT: String(metricsPort), WEB_DIST_DIR: path.join(WEB_DIR, 'dist'), ...env(base) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  gateway.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise((r) => gateway.once('exit', r));
  try {
    const deadline = Date.now() + 60_000;
    while (!(await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false))) {
      if (gateway.exitCode !== null || gateway.signalCode !== null) throw new Error(`the second gateway exited: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`the second gateway did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await run(base);
  } finally {
    if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill('SIGTERM');
    await exited;
  }
}

/** A small solid-colour PNG (8-bit RGB), made here so the test needs no image library. */
export function png(width: number, height: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
