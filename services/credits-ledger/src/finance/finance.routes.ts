import { Readable } from 'node:stream';
import { badRequest, invalidCursor, requireRole, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { verify } from '../audit/audit.service.js';
import { AccountParams, AtQuery, BalanceAt, ExportQuery, Statement, StatementQuery, TrialBalance, VerifyReport, errors } from './finance.schemas.js';
import * as finance from './finance.service.js';

const date = (s: string | undefined) => (s === undefined ? null : new Date(s));

/** Finance's audit API; every route needs the finance or admin role. */
export function financeRoutes(app: App, db: Kysely<DB>, sealSecret: string): void {
  const preHandler = requireRole('finance', 'admin');
  const tags = ['finance'];

  app.get(
    '/v1/admin/ledger/trial-balance',
    { preHandler, schema: { tags, querystring: AtQuery, response: { 200: TrialBalance, 400: errors[400], 401: errors[401], 403: errors[403] } } },
    async (request) => finance.trialBalance(db, date(request.query.at)),
  );

  app.get(
    '/v1/admin/ledger/accounts/:id/balance',
    { preHandler, schema: { tags, params: AccountParams, querystring: AtQuery, response: { 200: BalanceAt, ...errors } } },
    async (request) => finance.balanceAt(db, request.params.id, date(request.query.at)),
  );

  app.get(
    '/v1/admin/ledger/accounts/:id/statement',
    { preHandler, schema: { tags, params: AccountParams, querystring: StatementQuery, response: { 200: Statement, ...errors } } },
    async (request) => {
      const q = request.query;
      // The statement's cursor is the last transfer id it listed; empty is the first page.
      if (q.cursor && !/^[0-9]{1,15}$/.test(q.cursor)) throw invalidCursor();
      return finance.statement(db, request.params.id, new Date(q.from), new Date(q.to), q.cursor ? Number(q.cursor) : 0, q.limit);
    },
  );

  app.get(
    '/v1/admin/ledger/export.csv',
    {
      preHandler,
      schema: {
        tags,
        querystring: ExportQuery,
        response: { 200: { description: 'text/csv, streamed', content: { 'text/csv': { schema: { type: 'string' } } } }, 400: errors[400], 401: errors[401], 403: errors[403] },
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

  app.get(
    '/v1/admin/ledger/verify',
    { preHandler, schema: { tags, response: { 200: VerifyReport, 401: errors[401], 403: errors[403] } } },
    async () => verify(db, sealSecret),
  );
}
