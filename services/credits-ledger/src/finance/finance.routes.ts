import { Readable } from 'node:stream';
import { ref } from '@imlab/contracts';
import { badRequest, csvStream, errors, invalidCursor, operation, requireRole, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { verify } from '../audit/audit.service.js';
import { AccountParams, AtQuery, BalanceAt, ExportQuery, PeriodBounds, Statement, StatementQuery, TrialBalance, VerifyReport } from './finance.schemas.js';
import * as finance from './finance.service.js';

const date = (s: string | undefined) => (s === undefined ? null : new Date(s));

/** Finance's audit API; every route needs the finance or admin role. */
export function financeRoutes(app: App, db: Kysely<DB>, sealSecret: string): void {
  const preHandler = requireRole('finance', 'admin');
  const access = { roles: ['finance', 'admin'] } as const;
  const denied = { 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] } as const;

  app.get(
    '/v1/admin/ledger/trial-balance',
    {
      preHandler,
      schema: {
        ...operation('getTrialBalance', {
          tag: 'finance',
          access,
          summary: 'Trial balance',
          description: 'Every account type\'s debits, credits and balance at an instant (now by default); system accounts one by one, user accounts summed per type.',
        }),
        querystring: AtQuery,
        response: { 200: ref(TrialBalance, { description: 'The trial balance' }), ...errors(denied, { 400: ['VALIDATION_FAILED'] }) },
      },
    },
    async (request) => finance.trialBalance(db, date(request.query.at)),
  );

  app.get(
    '/v1/admin/ledger/accounts/:id/balance',
    {
      preHandler,
      schema: {
        ...operation('getLedgerAccountBalance', { tag: 'finance', access, summary: 'One account\'s balance', description: 'The balance of one ledger account at an instant (now by default).' }),
        params: AccountParams,
        querystring: AtQuery,
        response: { 200: ref(BalanceAt, { description: 'The account and its balance' }), ...errors(denied, { 400: ['VALIDATION_FAILED'], 404: ['LEDGER_ACCOUNT_NOT_FOUND'] }) },
      },
    },
    async (request) => finance.balanceAt(db, request.params.id, date(request.query.at)),
  );

  app.get(
    '/v1/admin/ledger/accounts/:id/statement',
    {
      preHandler,
      schema: {
        ...operation('getLedgerAccountStatement', {
          tag: 'finance',
          access,
          summary: 'One account\'s postings',
          description: 'The postings of one ledger account from `from` to `to`, with the balances before and after, in pages.',
        }),
        params: AccountParams,
        querystring: StatementQuery,
        response: {
          200: ref(Statement, { description: 'The statement' }),
          ...errors(denied, { 400: ['VALIDATION_FAILED', 'INVALID_CURSOR'], 404: ['LEDGER_ACCOUNT_NOT_FOUND'] }),
        },
      },
    },
    async (request) => {
      const q = request.query;
      // The statement's cursor is the last transfer id it listed; empty is the first page.
      if (q.cursor && !/^[0-9]{1,15}$/.test(q.cursor)) throw invalidCursor();
      return finance.statement(db, request.params.id, new Date(q.from), new Date(q.to), q.cursor ? Number(q.cursor) : 0, q.limit ?? 200);
    },
  );

  app.get(
    '/v1/admin/ledger/export.csv',
    {
      preHandler,
      schema: {
        ...operation('exportLedgerTransfers', {
          tag: 'finance',
          access,
          summary: 'The transfer log as CSV',
          description: 'Every transfer in the period (all of them without `from`/`to`) as CSV, streamed.',
        }),
        querystring: ExportQuery,
        response: {
          200: {
            description: 'The transfers, one per line after a header line',
            headers: { 'content-disposition': { type: 'string', description: 'attachment; filename="ledger-transfers.csv"' } },
            content: { 'text/csv': { schema: { type: 'string' } } },
          },
          ...errors(denied, { 400: ['VALIDATION_FAILED'] }),
        },
      },
    },
    async (request, reply) => {
      const from = date(request.query.from);
      const to = date(request.query.to);
      // As the statement: a period that ends before it starts is a mistake, not an empty file.
      if (from && to && from.getTime() > to.getTime()) throw badRequest('VALIDATION_FAILED', '"from" must not be after "to"');
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="ledger-transfers.csv"');
      return reply.send(Readable.from(finance.exportCsv(db, from, to)));
    },
  );

  const csvAnswer = (file: string, what: string) => ({
    description: `${what}, one per line after a header line (RFC 4180)`,
    headers: { 'content-disposition': { type: 'string', description: `attachment; filename="${file}"` } },
    content: { 'text/csv': { schema: { type: 'string' } } },
  });

  app.get(
    '/v1/admin/ledger/trial-balance.csv',
    {
      preHandler,
      schema: {
        ...operation('exportTrialBalance', { tag: 'finance', access, summary: 'Trial balance as CSV', description: 'The trial balance at an instant (now by default), one account line per row, then the totals.' }),
        querystring: AtQuery,
        response: { 200: csvAnswer('ledger-trial-balance.csv', 'The lines'), ...errors(denied, { 400: ['VALIDATION_FAILED'] }) },
      },
    },
    async (request, reply) => {
      const tb = await finance.trialBalance(db, date(request.query.at));
      const rows = [
        ...tb.lines.map((l) => ({ as_of: tb.asOf, account_id: l.accountId, type: l.type, scope: l.scope, accounts: l.accounts, debits: l.debits, credits: l.credits, balance: l.balance })),
        { as_of: tb.asOf, account_id: null, type: 'total', scope: null, accounts: null, debits: tb.totals.debits, credits: tb.totals.credits, balance: tb.totals.balance },
      ];
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="ledger-trial-balance.csv"');
      return reply.send(Readable.from(csvStream(['as_of', 'account_id', 'type', 'scope', 'accounts', 'debits', 'credits', 'balance'] as const, (async function* () { yield rows; })())));
    },
  );

  app.get(
    '/v1/admin/ledger/accounts/:id/statement.csv',
    {
      preHandler,
      schema: {
        ...operation('exportLedgerAccountStatement', { tag: 'finance', access, summary: 'One account\'s postings as CSV', description: 'Every posting of the account from `from` to `to`, streamed in keyset pages.' }),
        params: AccountParams,
        querystring: PeriodBounds,
        response: { 200: csvAnswer('ledger-statement.csv', 'The postings'), ...errors(denied, { 400: ['VALIDATION_FAILED'], 404: ['LEDGER_ACCOUNT_NOT_FOUND'] }) },
      },
    },
    async (request, reply) => {
      const from = new Date(request.query.from);
      const to = new Date(request.query.to);
      // Checked before the first byte: a bad period or account is a problem, not a broken file.
      await finance.statement(db, request.params.id, from, to, 0, 1);
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="ledger-statement.csv"');
      return reply.send(Readable.from(csvStream(['transfer_id', 'created_at', 'kind', 'side', 'amount', 'counter_account_id', 'reference'] as const, finance.statementPages(db, request.params.id, from, to))));
    },
  );

  app.get(
    '/v1/admin/ledger/verify',
    {
      preHandler,
      schema: {
        ...operation('verifyLedgerCheckpoints', {
          tag: 'finance',
          access,
          summary: 'Check the tamper-evident checkpoints',
          description: 'Recomputes every sealed checkpoint from the transfers it covers and reports the first mismatch, if any.',
        }),
        response: { 200: ref(VerifyReport, { description: 'The verification report' }), ...errors(denied) },
      },
    },
    async () => verify(db, sealSecret),
  );
}
