import { AppError } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import * as accountsRepo from '../accounts/accounts.repository.js';
import { normaliseEmail } from '../lib/email.js';
import { fetchUserExport } from '../privacy/export-fetch.js';
import { auditHere } from './suspension.service.js';

interface LedgerPart {
  balance: { available: number; held: number };
  transactions: { kind: string; amount: number; description: string; createdAt: string }[];
}
interface BillingPart {
  orders: { id: string; status: string; packId?: string; credits?: number; amount?: number; currency?: string; createdAt: string }[];
}
interface GenerationPart {
  generations: { id: string; status: string; prompt: string; negativePrompt: string | null; model: string; count: number; cost: number; errorCode: string | null; createdAt: string; images: { publishedAt?: string | null }[] }[];
}

/**
 * Support's look-up of one account (by email or id): profile, balance, recent credit lines,
 * orders, generations. Every look-up is in the audit log with its written reason; prompts are
 * shown only when asked for (`showPrompts`), which is a separate audit action. The other services'
 * parts come from their internal export endpoints with auth's service token (the export's path).
 */
export function createSupportService(deps: AuthDeps) {
  const { db, config, keys } = deps;
  return {
    async lookup(actorId: string, q: { email?: string | undefined; userId?: string | undefined; reason: string; showPrompts: boolean }) {
      const user = q.userId ? await accountsRepo.findUserById(db, q.userId) : await accountsRepo.findUserByEmail(db, normaliseEmail(q.email ?? ''));
      if (!user) throw new AppError('ACCOUNT_NOT_FOUND');
      const identities = await accountsRepo.listIdentities(db, user.id);
      const [ledger, billing, generation] = (await Promise.all([
        fetchUserExport(config.LEDGER_URL, user.id, await keys.serviceToken('credits-ledger')),
        fetchUserExport(config.BILLING_URL, user.id, await keys.serviceToken('billing')),
        fetchUserExport(config.GENERATION_URL, user.id, await keys.serviceToken('generation')),
      ]).catch((err: unknown) => {
        throw new AppError('SERVICE_UNAVAILABLE', { cause: err });
      })) as [LedgerPart, BillingPart, GenerationPart];
      const auditId = await db.transaction().execute(async (tx) => {
        const viewed = await auditHere(tx, actorId, 'support.account-viewed', user.id, q.reason);
        // a separate record: who read a person's prompts, and why
        if (q.showPrompts) await auditHere(tx, actorId, 'support.prompts-viewed', user.id, q.reason);
        return viewed;
      });
      return {
        auditId,
        promptsShown: q.showPrompts,
        account: {
          id: user.id,
          email: user.email,
          emailVerified: user.email_verified_at !== null,
          displayName: user.display_name,
          locale: user.locale,
          roles: user.roles,
          status: user.status,
          suspended: user.suspended_at !== null,
          google: identities.length > 0,
          createdAt: user.created_at.toISOString(),
        },
        balance: ledger.balance,
        creditLines: ledger.transactions.slice(0, 50).map((t) => ({ kind: t.kind, amount: t.amount, description: t.description, createdAt: t.createdAt })),
        orders: billing.orders.slice(0, 50).map((o) => ({ id: o.id, status: o.status, credits: o.credits ?? null, amount: o.amount ?? null, currency: o.currency ?? null, createdAt: o.createdAt })),
        generations: generation.generations
          .slice(-50)
          .reverse()
          .map((g) => ({
            id: g.id,
            status: g.status,
            model: g.model,
            count: g.count,
            cost: g.cost,
            errorCode: g.errorCode,
            createdAt: g.createdAt,
            images: g.images.length,
            published: g.images.filter((i) => i.publishedAt).length,
            prompt: q.showPrompts ? g.prompt : null,
            negativePrompt: q.showPrompts ? g.negativePrompt : null,
          })),
      };
    },
  };
}
export type SupportService = ReturnType<typeof createSupportService>;
