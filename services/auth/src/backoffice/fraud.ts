import { Type } from '@sinclair/typebox';
import { sql, type Kysely } from '@imlab/db';
import { FraudSignal, ref, type FraudSignal as FraudSignalT } from '@imlab/contracts';
import { AppError, errors, operation, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { DB } from '../db.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { callerOf, requireCaller } from '../http/request-auth.js';
import { fetchInternal } from '../privacy/export-fetch.js';
import { ADMIN, requireAdmin } from './suspension.routes.js';

/** Accounts signed up from one address (the gateway's hash of it; IPv6 by its /64) in the window that flag each of them. */
export const SHARED_ADDRESS_RULE = { accounts: 5, windowDays: 30 } as const;

export async function sharedAddressSignals(db: Kysely<DB>): Promise<FraudSignalT[]> {
  const { rows } = await sql<{ id: string; n: string; last_at: Date }>`
    select u.id, g.n::text as n, g.last_at from users u
      join (select signup_ip_hash, count(*) as n, max(created_at) as last_at from users
             where signup_ip_hash is not null and created_at > now() - make_interval(days => ${SHARED_ADDRESS_RULE.windowDays})
             group by signup_ip_hash having count(*) >= ${SHARED_ADDRESS_RULE.accounts}) g on g.signup_ip_hash = u.signup_ip_hash
     where u.created_at > now() - make_interval(days => ${SHARED_ADDRESS_RULE.windowDays})`.execute(db);
  return rows.map((r) => ({ userId: r.id, signal: 'shared-address' as const, count: Number(r.n), lastAt: new Date(r.last_at).toISOString() }));
}

const FraudSignals = Type.Object({ items: Type.Array(ref(FraudSignal)) }, { $id: 'FraudSignals', description: 'Accounts flagged for a look; nothing is blocked.' });
export const fraudSchemas = [FraudSignal, FraudSignals];

export function registerFraudRoutes(app: App, deps: AuthDeps, sessions: SessionService): void {
  app.get(
    '/v1/admin/fraud/signals',
    {
      preHandler: requireCaller(deps.keys, sessions),
      schema: {
        ...operation('listFraudSignals', {
          tag: 'back-office',
          access: { roles: ADMIN },
          summary: 'Fraud signals',
          description: `Accounts to look at (flags, never blocks): ${SHARED_ADDRESS_RULE.accounts} or more sign-ups from one address (its /64 for IPv6) in ${SHARED_ADDRESS_RULE.windowDays} days; 3 or more failed payments in 30 days; a dispute after buying 1,000 credits or more in the 30 days before it. Ids only; look an account up with the support look-up.`,
        }),
        response: { 200: ref(FraudSignals, { description: 'The flagged accounts' }), ...errors({ 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] }, { 503: ['SERVICE_UNAVAILABLE'] }) },
      },
    },
    async (request) => {
      requireAdmin(callerOf(request).roles);
      const billing = await fetchInternal(deps.config.BILLING_URL, '/internal/fraud/signals', await deps.keys.serviceToken('billing')).catch((err: unknown) => {
        throw new AppError('SERVICE_UNAVAILABLE', { cause: err });
      });
      const items = [...(await sharedAddressSignals(deps.db)), ...(JSON.parse(Buffer.from(billing.bytes).toString('utf8')) as FraudSignalT[])];
      return { items: items.sort((a, b) => b.lastAt.localeCompare(a.lastAt)) };
    },
  );
}
