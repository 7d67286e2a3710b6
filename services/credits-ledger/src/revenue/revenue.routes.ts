import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { ref, StringEnum } from '@imlab/contracts';
import { csvStream, DEFAULT_TIME_ZONE, errors, invalidCursor, operation, PeriodQuery, requireRole, resolvePeriod, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { closeMonth, findClose, listCloses } from './close.service.js';
import { allMovements, movementsPage, revenueReport, type RevenueReport } from './revenue.report.js';
import { lookup } from './lookup.service.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Currency = Nullable(Type.String({ description: 'ISO 4217, lower case; null for credits that carry no money (free grants, history from before prices reached the ledger).' }));

const CreditFigures = Type.Object({
  opening: Type.Integer(),
  sold: Type.Integer(),
  grantedFree: Type.Integer(),
  spent: Type.Integer(),
  refunded: Type.Integer(),
  clawedBack: Type.Integer(),
  restored: Type.Integer(),
  closing: Type.Integer(),
});

const Revenue = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    tz: Type.String(),
    currencies: Type.Array(
      Type.Object({
        currency: Currency,
        openingLiability: Type.Integer(),
        sold: Type.Integer({ description: 'Deferred revenue added: credits sold, at their price net of tax.' }),
        spent: Type.Integer({ description: 'Revenue recognised: credits spent, at their lot\'s price.' }),
        refunded: Type.Integer(),
        clawedBack: Type.Integer(),
        restored: Type.Integer(),
        closingLiability: Type.Integer(),
        balances: Type.Boolean(),
        credits: CreditFigures,
      }),
    ),
    trialBalance: Type.Object({ outstandingCredits: Type.Integer(), heldByPeople: Type.Integer(), tiesOut: Type.Boolean() }),
    lotsAgree: Nullable(Type.Boolean()),
    rule: Type.String(),
    closed: Nullable(
      Type.Object({ closedAt: Type.String({ format: 'date-time' }), checkpoint: Nullable(Type.Object({ id: Type.Integer(), hash: Type.String(), lastTransferId: Type.Integer() })) }),
    ),
  },
  { $id: 'LedgerRevenue', description: 'The credit liability and revenue in currency for a period; a closed month answers the figures frozen at its close.' },
);

const Movement = Type.Object(
  {
    movementId: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    kind: StringEnum(['sold', 'granted_free', 'spent', 'refunded', 'clawed_back', 'restored']),
    credits: Type.Integer(),
    amount: Type.Integer({ description: 'Minor units of `currency`.' }),
    currency: Currency,
    lotId: Nullable(Type.Integer()),
    transferId: Type.Integer(),
    reference: Nullable(Type.String()),
  },
  { $id: 'LedgerRevenueMovement' },
);
const MovementPage = Type.Object({ items: Type.Array(ref(Movement)), nextCursor: Nullable(Type.String()) }, { $id: 'LedgerRevenueMovementPage' });

const Close = Type.Object(
  {
    month: Type.String(),
    tz: Type.String(),
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    closedAt: Type.String({ format: 'date-time' }),
    checkpoint: Nullable(Type.Object({ id: Type.Integer(), hash: Type.String(), lastTransferId: Type.Integer() })),
    figures: ref(Revenue),
  },
  { $id: 'LedgerPeriodClose' },
);
const CloseList = Type.Object({ items: Type.Array(ref(Close)), nextCursor: Nullable(Type.String()) }, { $id: 'LedgerPeriodCloseList' });

const Lookup = Type.Object(
  {
    userId: Nullable(Type.String({ format: 'uuid' })),
    accounts: Type.Array(Type.Object({ accountId: Type.String({ format: 'uuid' }), type: Type.String() })),
    orderIds: Type.Array(Type.String({ format: 'uuid' }), { description: 'Orders the person\'s ledger postings name (`order:<id>`).' }),
  },
  { $id: 'LedgerLookup', description: 'Ids only: the person, their ledger accounts and the orders their postings name.' },
);

/** Finance's revenue schemas, registered with the app. */
export const revenueSchemas = [Revenue, Movement, MovementPage, Close, CloseList, Lookup];

const PagedPeriodQuery = Type.Object(
  { ...PeriodQuery.properties, cursor: Type.Optional(Type.String({ maxLength: 20 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) },
  { additionalProperties: false },
);
const PlainPeriodQuery = Type.Object({ ...PeriodQuery.properties }, { additionalProperties: false });

const MOVEMENT_COLUMNS = ['movement_id', 'created_at', 'kind', 'credits', 'amount', 'currency', 'lot_id', 'transfer_id', 'reference'] as const;
const REVENUE_COLUMNS = [
  'currency', 'opening_liability', 'sold', 'spent', 'refunded', 'clawed_back', 'restored', 'closing_liability',
  'credits_opening', 'credits_sold', 'credits_granted_free', 'credits_spent', 'credits_refunded', 'credits_clawed_back', 'credits_restored', 'credits_closing',
] as const;

/** Revenue, liability, period close and the person ↔ books lookup; finance or admin only. */
export function revenueRoutes(app: App, db: Kysely<DB>, sealSecret: string): void {
  const preHandler = requireRole('finance', 'admin');
  const access = { roles: ['finance', 'admin'] } as const;
  const denied = { 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] } as const;
  const periodErrors = { 400: ['VALIDATION_FAILED', 'FINANCE_PERIOD_INVALID', 'FINANCE_TIMEZONE_INVALID'] } as const;

  /** A closed month in the same zone answers what was frozen at its close. */
  const report = async (q: PeriodQuery): Promise<RevenueReport> => {
    const period = resolvePeriod(q);
    if (q.month !== undefined) {
      const closed = await findClose(db, q.month, period.tz);
      if (closed) return { ...closed.figures, closed: { closedAt: closed.closedAt, checkpoint: closed.checkpoint } };
    }
    return revenueReport(db, period);
  };

  app.get(
    '/v1/admin/ledger/revenue',
    {
      preHandler,
      schema: {
        ...operation('getLedgerRevenue', {
          tag: 'finance',
          access,
          summary: 'Credit liability and revenue for a period',
          description: 'Per currency: the liability at the start, credits sold (deferred revenue), spent (revenue recognised), refunded, clawed back, restored, and the liability at the end, tied to the credits people hold.',
        }),
        querystring: PlainPeriodQuery,
        response: { 200: ref(Revenue, { description: 'The figures' }), ...errors(denied, periodErrors) },
      },
    },
    async (request) => report(request.query),
  );

  app.get(
    '/v1/admin/ledger/revenue.csv',
    {
      preHandler,
      schema: {
        ...operation('exportLedgerRevenue', { tag: 'finance', access, summary: 'Credit liability and revenue as CSV', description: 'One line per currency (an empty currency: credits without money).' }),
        querystring: PlainPeriodQuery,
        response: {
          200: { description: 'The figures, one currency per line', headers: { 'content-disposition': { type: 'string' } }, content: { 'text/csv': { schema: { type: 'string' } } } },
          ...errors(denied, periodErrors),
        },
      },
    },
    async (request, reply) => {
      const r = await report(request.query);
      const rows = r.currencies.map((c) => ({
        currency: c.currency,
        opening_liability: c.openingLiability,
        sold: c.sold,
        spent: c.spent,
        refunded: c.refunded,
        clawed_back: c.clawedBack,
        restored: c.restored,
        closing_liability: c.closingLiability,
        credits_opening: c.credits.opening,
        credits_sold: c.credits.sold,
        credits_granted_free: c.credits.grantedFree,
        credits_spent: c.credits.spent,
        credits_refunded: c.credits.refunded,
        credits_clawed_back: c.credits.clawedBack,
        credits_restored: c.credits.restored,
        credits_closing: c.credits.closing,
      }));
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="ledger-revenue.csv"');
      return reply.send(Readable.from(csvStream(REVENUE_COLUMNS, (async function* () { yield rows; })())));
    },
  );

  app.get(
    '/v1/admin/ledger/revenue/movements',
    {
      preHandler,
      schema: {
        ...operation('listLedgerRevenueMovements', { tag: 'finance', access, summary: 'The period\'s revenue movements', description: 'Every change of a lot (sold, granted free, spent, refunded, clawed back, restored) with its money, in pages.' }),
        querystring: PagedPeriodQuery,
        response: { 200: ref(MovementPage, { description: 'A page of movements' }), ...errors(denied, { 400: [...periodErrors[400], 'INVALID_CURSOR'] }) },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.cursor && !/^[0-9]{1,15}$/.test(q.cursor)) throw invalidCursor();
      return movementsPage(db, resolvePeriod(q), q.cursor ? Number(q.cursor) : 0, q.limit ?? 200);
    },
  );

  app.get(
    '/v1/admin/ledger/revenue/movements.csv',
    {
      preHandler,
      schema: {
        ...operation('exportLedgerRevenueMovements', { tag: 'finance', access, summary: 'The period\'s revenue movements as CSV', description: 'As the JSON list, streamed.' }),
        querystring: PlainPeriodQuery,
        response: {
          200: { description: 'The movements, one per line', headers: { 'content-disposition': { type: 'string' } }, content: { 'text/csv': { schema: { type: 'string' } } } },
          ...errors(denied, periodErrors),
        },
      },
    },
    async (request, reply) => {
      const period = resolvePeriod(request.query);
      const rows = async function* () {
        for await (const page of allMovements(db, period)) {
          yield page.map((m) => ({ movement_id: m.movementId, created_at: m.createdAt, kind: m.kind, credits: m.credits, amount: m.amount, currency: m.currency, lot_id: m.lotId, transfer_id: m.transferId, reference: m.reference }));
        }
      };
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="ledger-revenue-movements.csv"');
      return reply.send(Readable.from(csvStream(MOVEMENT_COLUMNS, rows())));
    },
  );

  app.post(
    '/v1/admin/ledger/periods/close',
    {
      preHandler,
      schema: {
        ...operation('closeLedgerPeriod', {
          tag: 'finance',
          access,
          summary: 'Close a month',
          description: 'Freezes a month that is over (in `tz`): its figures and the newest tamper-evidence checkpoint are stored; later corrections are dated in the next open period.',
        }),
        body: Type.Object({ month: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$' }), tz: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
        response: { 200: ref(Close, { description: 'The close' }), ...errors(denied, { 400: ['VALIDATION_FAILED', 'FINANCE_PERIOD_INVALID', 'FINANCE_TIMEZONE_INVALID'], 409: ['FINANCE_PERIOD_CLOSED', 'FINANCE_PERIOD_NOT_OVER'] }) },
      },
    },
    async (request) => closeMonth(db, sealSecret, request.body.month, request.body.tz ?? DEFAULT_TIME_ZONE),
  );

  app.get(
    '/v1/admin/ledger/periods',
    {
      preHandler,
      schema: {
        ...operation('listLedgerPeriodCloses', { tag: 'finance', access, summary: 'Closed months', description: 'Every closed month, newest first, with its checkpoint and frozen figures.' }),
        response: { 200: ref(CloseList, { description: 'The closes' }), ...errors(denied) },
      },
    },
    async () => ({ items: await listCloses(db), nextCursor: null }),
  );

  app.get(
    '/v1/admin/ledger/lookup',
    {
      preHandler,
      schema: {
        ...operation('lookupLedgerAccount', {
          tag: 'finance',
          access,
          summary: 'From a person, an account or an order to the books',
          description: 'Give one of `userId`, `accountId`, `orderId`: answers the person, their ledger accounts and the orders their postings name (ids only).',
        }),
        querystring: Type.Object(
          { userId: Type.Optional(Type.String({ format: 'uuid' })), accountId: Type.Optional(Type.String({ format: 'uuid' })), orderId: Type.Optional(Type.String({ format: 'uuid' })) },
          { additionalProperties: false },
        ),
        response: { 200: ref(Lookup, { description: 'The ids' }), ...errors(denied, { 400: ['VALIDATION_FAILED'], 404: ['LEDGER_ACCOUNT_NOT_FOUND'] }) },
      },
    },
    async (request) => lookup(db, request.query),
  );
}
