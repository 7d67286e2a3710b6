import { fileURLToPath } from 'node:url';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Stripe from 'stripe';

/** Stripe's published example objects, kept in this repository (`../fixtures/stripe/`, see its README). */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/stripe', import.meta.url));
export function fixture<T = Record<string, unknown>>(name: 'checkout.session' | 'charge' | 'dispute' | 'event' | 'refund' | 'payment_intent' | 'balance_transaction' | 'payout'): T {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}/${name}.json`, 'utf8')) as T;
}

export type Session = Record<string, unknown> & { id: string; metadata: Record<string, string> };

export interface RecordedRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  authorization: string | undefined;
  params: Record<string, string>;
  query: Record<string, string>;
}

const rand = (n = 12) => randomBytes(n).toString('hex');

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function stripeError(status: number, type: string, message: string, code?: string) {
  return { status, body: { error: { type, message, ...(code ? { code } : {}) } } };
}

const signer = new Stripe('sk_test_signing_only');
const escapeHtml = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface BalanceTransactionInput {
  id?: string;
  type: 'charge' | 'refund' | 'adjustment' | 'stripe_fee' | 'payment_failure_refund' | 'payout';
  amount: number;
  fee?: number;
  currency: string;
  created: Date;
  /** The charge, refund or dispute object (or a bare id). */
  source?: Record<string, unknown> | string | null;
  reportingCategory?: string;
  status?: 'pending' | 'available';
  availableOn?: Date;
}

export interface PayoutInput {
  id?: string;
  transactions: string[];
  amount?: number;
  currency: string;
  created: Date;
  arrivalDate?: Date;
  status?: 'paid' | 'pending' | 'in_transit' | 'canceled' | 'failed';
}

const unix = (d: Date) => Math.floor(d.getTime() / 1000);

/**
 * Stripe's list semantics for what billing imports: newest first, `limit` (1–100, default 10),
 * `starting_after` (an id of the previous page), `created[gt|gte|lt|lte]` and equality filters.
 */
function listPage(all: Record<string, unknown>[], query: URLSearchParams, url: string, filters: string[]): { status: number; body: unknown } {
  let rows = all.slice().reverse();
  rows.sort((a, b) => (b.created as number) - (a.created as number));
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    const v = query.get(`created[${op}]`);
    if (v === null) continue;
    const n = Number(v);
    rows = rows.filter((r) => {
      const c = r.created as number;
      return op === 'gt' ? c > n : op === 'gte' ? c >= n : op === 'lt' ? c < n : c <= n;
    });
  }
  for (const f of filters) {
    const v = query.get(f);
    if (v !== null) rows = rows.filter((r) => r[f] === v);
  }
  const limit = Number(query.get('limit') ?? 10);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return stripeError(400, 'invalid_request_error', 'Invalid integer: limit must be between 1 and 100', 'parameter_invalid_integer');
  const after = query.get('starting_after');
  let from = 0;
  if (after) {
    from = rows.findIndex((r) => r.id === after) + 1;
    if (from === 0) return stripeError(400, 'invalid_request_error', `No such object: '${after}'`, 'resource_missing');
  }
  const data = rows.slice(from, from + limit);
  return { status: 200, body: { object: 'list', url, has_more: from + limit < rows.length, data } };
}

export interface FakeStripeOptions {
  /**
   * Serve a hosted-checkout stand-in a browser can open: each session's `url` is the fake's own
   * `/c/pay/<id>` page (amount, Pay, Cancel) instead of checkout.stripe.com.
   */
  hostedCheckout?: boolean;
  /** The rate the Stripe Tax stand-in charges when a session asks for `automatic_tax` (0.2). */
  taxRate?: number;
}

/**
 * A local stand-in for the Stripe endpoints billing uses — Checkout Session create and retrieve,
 * Refund create and list, Balance Transaction and Payout lists (Stripe's pagination and filters)
 * — speaking Stripe's wire format (form-encoded requests, JSON objects built on the
 * published fixtures, Stripe-style errors, idempotency keys replayed). With `hostedCheckout`, also
 * the Checkout page itself: Pay completes the session, sends the signed
 * `checkout.session.completed` event to the webhook URL given by `deliverWebhooksTo`, and sends
 * the browser to the session's `success_url`; Cancel sends it to `cancel_url`.
 */
export async function startFakeStripe(options: FakeStripeOptions = {}): Promise<{
  base: string;
  requests: RecordedRequest[];
  sessions: Map<string, Session>;
  /** Refunds created through POST /v1/refunds (one per idempotency key). */
  refunds: Record<string, unknown>[];
  /**
   * Records a refund of a payment as Stripe holds it (or changes its status): GET /v1/refunds
   * lists it. Returns the Refund object, as a refund event would carry it.
   */
  putRefund(r: { id: string; paymentIntent: string; amount: number; status: string }): Record<string, unknown>;
  /** Records a PaymentIntent (built on the published fixture), expanded into its session when asked. */
  putPaymentIntent(pi: { id: string; status: string; lastPaymentError?: Record<string, unknown> | null; chargedAt?: Date }): Record<string, unknown>;
  /**
   * Records a balance transaction as Stripe's books hold it (built on the published fixture):
   * `source` is the charge, refund or dispute object it moved money for (its id is what the list
   * answers; `expand[]=data.source` answers the object). Returns the transaction.
   */
  putBalanceTransaction(t: BalanceTransactionInput): Record<string, unknown>;
  /**
   * Records a payout of the given balance transactions (they get `payout`), with its own
   * `payout`-type balance transaction (−amount); amount defaults to the sum of their net.
   */
  putPayout(p: PayoutInput): Record<string, unknown>;
  /** Changes a stored session as Stripe would after the customer acts (paid, expired...). */
  update(id: string, patch: Record<string, unknown>): Session;
  /** The next N create calls answer 500. */
  failCreates(n: number): void;
  /** Where the hosted page's Pay sends the signed event (known only once the system runs). */
  deliverWebhooksTo(url: string, secret: string): void;
  /**
   * While held, the hosted page's Pay keeps its event (Stripe's webhook arriving late); the
   * browser still goes to success_url. `releaseWebhooks()` sends what was kept.
   */
  holdWebhooks(): void;
  releaseWebhooks(): Promise<void>;
  close(): Promise<void>;
}> {
  const requests: RecordedRequest[] = [];
  const sessions = new Map<string, Session>();
  const byIdempotencyKey = new Map<string, Session>();
  const refunds: Record<string, unknown>[] = [];
  const refundsByIdempotencyKey = new Map<string, Record<string, unknown>>();
  const held = new Map<string, Record<string, unknown>>();
  const paymentIntents = new Map<string, Record<string, unknown>>();
  const charges = new Map<string, Record<string, unknown>>();
  const balanceTransactions: Record<string, unknown>[] = [];
  const payouts: Record<string, unknown>[] = [];
  /** The objects balance transactions moved money for, by id, for `expand[]=data.source`. */
  const sources = new Map<string, Record<string, unknown>>();
  let failing = 0;
  let webhook: { url: string; secret: string } | undefined;
  let holding = false;
  const heldEvents: string[] = [];
  /** Sends one signed event to the webhook URL; answers its status. */
  async function sendWebhook(payload: string): Promise<number> {
    if (!webhook) return 0;
    const answer = await fetch(webhook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signer.webhooks.generateTestHeaderString({ payload, secret: webhook.secret }), 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
      body: payload,
    });
    await answer.arrayBuffer();
    return answer.status;
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const raw = await readBody(req);
      const params = Object.fromEntries(new URLSearchParams(raw));
      const idem = req.headers['idempotency-key'];
      requests.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        idempotencyKey: typeof idem === 'string' ? idem : undefined,
        authorization: req.headers.authorization,
        params,
        query: Object.fromEntries(url.searchParams),
      });
      const hosted = /^\/c\/pay\/([^/]+)$/.exec(url.pathname);
      if (options.hostedCheckout && hosted) {
        await checkoutPage(decodeURIComponent(hosted[1]!), req.method ?? 'GET', params, res);
        return;
      }
      let answer: { status: number; body: unknown };
      if (!req.headers.authorization?.startsWith('Bearer sk_')) {
        answer = stripeError(401, 'invalid_request_error', 'Invalid API Key provided');
      } else if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
        if (failing > 0) {
          failing--;
          answer = stripeError(500, 'api_error', 'Something went wrong on Stripe\'s end.');
        } else if (typeof idem === 'string' && byIdempotencyKey.has(idem)) {
          answer = { status: 200, body: byIdempotencyKey.get(idem) };
        } else {
          const session = createSession(params);
          sessions.set(session.id, session);
          if (typeof idem === 'string') byIdempotencyKey.set(idem, session);
          answer = { status: 200, body: session };
        }
      } else if (req.method === 'POST' && url.pathname === '/v1/refunds') {
        if (typeof idem === 'string' && refundsByIdempotencyKey.has(idem)) {
          answer = { status: 200, body: refundsByIdempotencyKey.get(idem) };
        } else if (!params.payment_intent) {
          answer = stripeError(400, 'invalid_request_error', 'One of the following params should be provided for this request: payment_intent or charge.', 'parameter_missing');
        } else {
          const refund = { ...fixture('refund'), id: `re_test_${rand()}`, payment_intent: params.payment_intent, status: 'succeeded', created: Math.floor(Date.now() / 1000) };
          refunds.push(refund);
          if (typeof idem === 'string') refundsByIdempotencyKey.set(idem, refund);
          answer = { status: 200, body: refund };
        }
      } else if (req.method === 'GET' && url.pathname === '/v1/refunds') {
        // Newest first, as Stripe lists; `starting_after` pages on.
        const pi = url.searchParams.get('payment_intent');
        const all = [...refunds, ...held.values()].filter((r) => !pi || r.payment_intent === pi).reverse();
        const after = url.searchParams.get('starting_after');
        const from = after ? all.findIndex((r) => r.id === after) + 1 : 0;
        const limit = Number(url.searchParams.get('limit') ?? 10);
        const data = all.slice(from, from + limit);
        answer = { status: 200, body: { object: 'list', url: '/v1/refunds', has_more: from + limit < all.length, data } };
      } else if (req.method === 'GET' && url.pathname === '/v1/balance_transactions') {
        answer = listPage(balanceTransactions, url.searchParams, '/v1/balance_transactions', ['payout', 'type', 'currency', 'source']);
        const expandSource = [...url.searchParams.entries()].some(([k, v]) => /^expand\[\d*\]$/.test(k) && v === 'data.source');
        if (answer.status === 200) {
          const body = answer.body as { data: Record<string, unknown>[] };
          // `payout` is not a field of the object, only a filter: the list answers Stripe's shape.
          body.data = body.data.map((t) => {
            const { payout: _payout, ...rest } = structuredClone(t);
            if (expandSource && typeof rest.source === 'string') rest.source = structuredClone(sources.get(rest.source) ?? rest.source);
            return rest;
          });
        }
      } else if (req.method === 'GET' && url.pathname === '/v1/payouts') {
        answer = listPage(payouts, url.searchParams, '/v1/payouts', ['status', 'currency']);
      } else if (req.method === 'GET' && url.pathname.startsWith('/v1/payouts/')) {
        const id = decodeURIComponent(url.pathname.slice('/v1/payouts/'.length));
        const p = payouts.find((x) => x.id === id);
        answer = p ? { status: 200, body: p } : stripeError(404, 'invalid_request_error', `No such payout: '${id}'`, 'resource_missing');
      } else if (req.method === 'GET' && url.pathname.startsWith('/v1/checkout/sessions/')) {
        const id = decodeURIComponent(url.pathname.slice('/v1/checkout/sessions/'.length));
        const s = sessions.get(id);
        answer = s ? { status: 200, body: expand(s, url.searchParams) } : stripeError(404, 'invalid_request_error', `No such checkout.session: '${id}'`, 'resource_missing');
      } else {
        answer = stripeError(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${url.pathname}).`);
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', 'request-id': `req_${rand(7)}` });
      res.end(JSON.stringify(answer.body));
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const base = `http://127.0.0.1:${port}`;

  /** The hosted Checkout stand-in: GET shows the amount with Pay and Cancel; POST acts. */
  async function checkoutPage(id: string, method: string, form: Record<string, string>, res: ServerResponse): Promise<void> {
    const s = sessions.get(id);
    const html = (status: number, title: string, body: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>${escapeHtml(title)}</title></head><body><main>${body}</main></body></html>`);
    };
    if (!s) return html(404, 'Checkout not found', '<h1>Checkout not found</h1>');
    if (method === 'GET') {
      const amount = `${((s.amount_total as number) / 100).toFixed(2)} ${String(s.currency ?? '').toUpperCase()}`;
      if (s.status !== 'open') return html(410, 'Checkout is over', '<h1>This checkout is over</h1>');
      return html(
        200,
        'Pay · Stripe Checkout (test)',
        `<h1>Pay ${escapeHtml(amount)}</h1><p id="amount">${escapeHtml(amount)}</p>` +
          `<form method="post"><button type="submit" name="action" value="pay">Pay</button> <button type="submit" name="action" value="cancel">Cancel</button></form>`,
      );
    }
    if (form.action === 'pay' && s.status === 'open') {
      Object.assign(s, { status: 'complete', payment_status: 'paid', payment_intent: `pi_test_${rand()}` });
      if (webhook) {
        const ev = fixture('event');
        const payload = JSON.stringify({ ...ev, id: `evt_test_${rand()}`, type: 'checkout.session.completed', created: Math.floor(Date.now() / 1000), data: { object: structuredClone(s) } });
        if (holding) heldEvents.push(payload);
        else {
          const status = await sendWebhook(payload);
          if (status < 200 || status >= 300) return html(502, 'Webhook refused', `<h1>The webhook answered ${status}</h1>`);
        }
      }
      res.writeHead(303, { location: String(s.success_url).replace('{CHECKOUT_SESSION_ID}', s.id) });
      return void res.end();
    }
    if (form.action === 'cancel') {
      res.writeHead(303, { location: String(s.cancel_url).replace('{CHECKOUT_SESSION_ID}', s.id) });
      return void res.end();
    }
    return html(400, 'Unknown action', '<h1>Unknown action</h1>');
  }

  /** Stripe's `expand[]` for what billing asks: a session's payment_intent and its latest_charge. */
  function expand(session: Session, query: URLSearchParams): Record<string, unknown> {
    const paths = [...query.entries()].filter(([k]) => /^expand\[\d*\]$/.test(k)).map(([, v]) => v);
    const out: Record<string, unknown> = structuredClone(session);
    const piId = session.payment_intent;
    if (typeof piId !== 'string' || !paths.some((p) => p === 'payment_intent' || p.startsWith('payment_intent.'))) return out;
    const pi: Record<string, unknown> = structuredClone(
      paymentIntents.get(piId) ?? { ...fixture('payment_intent'), id: piId, status: session.payment_status === 'paid' ? 'succeeded' : 'processing', latest_charge: null },
    );
    if (paths.includes('payment_intent.latest_charge') && typeof pi.latest_charge === 'string') pi.latest_charge = structuredClone(charges.get(pi.latest_charge) ?? null);
    out.payment_intent = pi;
    return out;
  }

  function createSession(p: Record<string, string>): Session {
    const s = fixture<Session>('checkout.session');
    const id = `cs_test_${rand()}`;
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(p)) {
      const m = /^metadata\[(.+)\]$/.exec(k);
      if (m) metadata[m[1]!] = v;
    }
    const unit = Number(p['line_items[0][price_data][unit_amount]'] ?? 0);
    const qty = Number(p['line_items[0][quantity]'] ?? 1);
    // Stripe Tax stand-in: one rate for every customer (options.taxRate, 20% by default). An
    // exclusive price gets the tax added; an inclusive one contains it.
    const automaticTax = p['automatic_tax[enabled]'] === 'true';
    const behavior = p['line_items[0][price_data][tax_behavior]'] ?? 'unspecified';
    const rate = options.taxRate ?? 0.2;
    const subtotal = unit * qty;
    const tax = !automaticTax ? 0 : behavior === 'inclusive' ? subtotal - Math.round(subtotal / (1 + rate)) : Math.round(subtotal * rate);
    Object.assign(s, {
      automatic_tax: { enabled: automaticTax, liability: automaticTax ? { type: 'self' } : null, status: automaticTax ? 'complete' : null, provider: automaticTax ? 'stripe' : null },
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: tax },
      id,
      mode: p.mode,
      client_reference_id: p.client_reference_id ?? null,
      metadata,
      currency: p['line_items[0][price_data][currency]'] ?? null,
      amount_subtotal: subtotal,
      amount_total: behavior === 'inclusive' ? subtotal : subtotal + tax,
      success_url: p.success_url,
      cancel_url: p.cancel_url,
      expires_at: Number(p.expires_at ?? Math.floor(Date.now() / 1000) + 86400),
      created: Math.floor(Date.now() / 1000),
      locale: p.locale ?? null,
      status: 'open',
      payment_status: 'unpaid',
      payment_intent: null,
      url: options.hostedCheckout ? `${base}/c/pay/${id}` : `https://checkout.stripe.com/c/pay/${id}`,
    });
    return s;
  }

  return {
    base,
    requests,
    sessions,
    refunds,
    putBalanceTransaction(t) {
      const source = t.source ?? null;
      const sourceId = typeof source === 'string' ? source : source ? String(source.id) : null;
      if (source && typeof source === 'object') sources.set(sourceId!, structuredClone(source));
      const fee = t.fee ?? 0;
      const created = unix(t.created);
      const txn: Record<string, unknown> = {
        ...fixture('balance_transaction'),
        id: t.id ?? `txn_test_${rand()}`,
        type: t.type,
        amount: t.amount,
        fee,
        fee_details: fee ? [{ amount: fee, application: null, currency: t.currency, description: 'Stripe processing fees', type: 'stripe_fee' }] : [],
        net: t.amount - fee,
        currency: t.currency,
        created,
        available_on: t.availableOn ? unix(t.availableOn) : created + 2 * 86400,
        status: t.status ?? 'available',
        source: sourceId,
        reporting_category: t.reportingCategory ?? (t.type === 'adjustment' ? 'dispute' : t.type),
        description: null,
        payout: null,
      };
      const known = balanceTransactions.findIndex((x) => x.id === txn.id);
      if (known >= 0) balanceTransactions[known] = txn;
      else balanceTransactions.push(txn);
      return structuredClone(txn);
    },
    putPayout(p) {
      const id = p.id ?? `po_test_${rand()}`;
      const included = balanceTransactions.filter((t) => p.transactions.includes(t.id as string));
      const amount = p.amount ?? included.reduce((s, t) => s + (t.net as number), 0);
      const created = unix(p.created);
      const own = {
        ...fixture('balance_transaction'),
        id: `txn_test_${rand()}`,
        type: 'payout',
        reporting_category: 'payout',
        amount: -amount,
        fee: 0,
        fee_details: [],
        net: -amount,
        currency: p.currency,
        created,
        available_on: created,
        status: 'available',
        source: id,
        description: 'STRIPE PAYOUT',
        payout: id,
      };
      balanceTransactions.push(own);
      for (const t of included) t.payout = id;
      const payout = {
        ...fixture('payout'),
        id,
        amount,
        currency: p.currency,
        created,
        arrival_date: unix(p.arrivalDate ?? new Date(p.created.getTime() + 2 * 86400_000)),
        status: p.status ?? 'paid',
        balance_transaction: own.id,
        automatic: true,
        destination: `ba_test_${rand(8)}`,
      };
      const known = payouts.findIndex((x) => x.id === id);
      if (known >= 0) payouts[known] = payout;
      else payouts.push(payout);
      return structuredClone(payout);
    },
    update(id, patch) {
      const s = sessions.get(id);
      if (!s) throw new Error(`fake stripe: no session ${id}`);
      Object.assign(s, patch);
      return s;
    },
    putRefund(r) {
      const known = held.get(r.id);
      const refund = { ...(known ?? fixture('refund')), id: r.id, payment_intent: r.paymentIntent, amount: r.amount, status: r.status, created: Math.floor(Date.now() / 1000) };
      if (r.status === 'failed') Object.assign(refund, { failure_reason: 'expired_or_canceled_card', failure_balance_transaction: `txn_test_${rand()}` });
      held.set(r.id, refund);
      return structuredClone(refund);
    },
    putPaymentIntent({ id, status, lastPaymentError = null, chargedAt }) {
      let latestCharge: string | null = null;
      if (chargedAt) {
        latestCharge = `ch_test_${rand()}`;
        const created = Math.floor(chargedAt.getTime() / 1000);
        charges.set(latestCharge, { ...fixture('charge'), id: latestCharge, payment_intent: id, status: 'succeeded', paid: true, created });
      }
      const pi = {
        ...fixture('payment_intent'),
        id,
        status,
        last_payment_error: lastPaymentError,
        latest_charge: latestCharge,
        client_secret: `${id}_secret_${rand(8)}`,
        created: Math.floor(Date.now() / 1000),
      };
      paymentIntents.set(id, pi);
      return structuredClone(pi);
    },
    failCreates(n) {
      failing = n;
    },
    deliverWebhooksTo(url, secret) {
      webhook = { url, secret };
    },
    holdWebhooks() {
      holding = true;
    },
    async releaseWebhooks() {
      holding = false;
      for (const payload of heldEvents.splice(0)) {
        const status = await sendWebhook(payload);
        if (status < 200 || status >= 300) throw new Error(`fake stripe: the webhook answered ${status}`);
      }
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
