import { v7 as uuidv7 } from 'uuid';
import { sessionsEndedChannel, suspendedUserKey, type AuditAction } from '@imlab/contracts';
import { AppError, forbidden } from '@imlab/http';
import type { Db, Transaction } from '@imlab/db';
import type { AuthDeps } from '../deps.js';
import type { DB } from '../db.js';
import type { SessionService } from '../sessions/sessions.service.js';
import * as accountsRepo from '../accounts/accounts.repository.js';
import { recordAudit } from '../audit/index.js';

/** auth's own back-office actions are recorded in their transaction (it keeps the log). */
export async function auditHere(tx: Transaction<DB>, actorId: string, action: AuditAction, targetUserId: string | undefined, reason: string, targetIds: Record<string, string> = {}): Promise<string> {
  const id = uuidv7();
  await recordAudit(tx, { id, at: new Date().toISOString(), service: 'auth', actorId, action, ...(targetUserId ? { targetUserId } : {}), targetIds, reason });
  return id;
}

export async function isSuspended(db: Db<DB>, userId: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('suspended_at').where('id', '=', userId).executeTakeFirst();
  return row?.suspended_at != null;
}

/**
 * Suspend: every session ends in the transaction that marks the account (services refuse their
 * tokens within ~1 s, and every gateway drops its reuse of them at once on the announcement);
 * sign-in is refused while it lasts; creating, publishing and buying are refused by the services
 * (the Redis mark). The person is told by email. Unsuspend lifts all of it (sessions stay ended).
 */
export function createSuspensionService(deps: AuthDeps, sessions: SessionService) {
  const { db, bus, redis, keyPrefix, logger } = deps;

  async function change(actorId: string, userId: string, reason: string, suspend: boolean): Promise<{ userId: string; suspended: boolean; auditId: string }> {
    if (suspend && actorId === userId) throw forbidden('an admin cannot suspend their own account');
    const { auditId, afterCommit } = await db.transaction().execute(async (tx) => {
      const user = await accountsRepo.lockUser(tx, userId);
      if (!user || user.status !== 'active') throw new AppError('ACCOUNT_NOT_FOUND');
      if ((user.suspended_at !== null) === suspend) throw new AppError('ACCOUNT_SUSPENSION_UNCHANGED', { params: { suspended: suspend } });
      await tx.updateTable('users').set({ suspended_at: suspend ? new Date() : null }).where('id', '=', userId).execute();
      const after = suspend ? await sessions.revokeAllIn(tx, userId) : async () => {};
      const auditId = await auditHere(tx, actorId, suspend ? 'account.suspended' : 'account.unsuspended', userId, reason);
      await bus.send(tx, 'email.send', {
        template: suspend ? 'account-suspended' : 'account-reinstated',
        userId,
        locale: user.locale,
        data: { displayName: user.display_name },
        idempotencyKey: `${suspend ? 'account-suspended' : 'account-reinstated'}:${auditId}`,
      });
      return { auditId, afterCommit: after };
    });
    try {
      if (suspend) await redis.set(suspendedUserKey(keyPrefix, userId), '1');
      else await redis.del(suspendedUserKey(keyPrefix, userId));
    } catch (err) {
      // Postgres has it (no sign-in, no session); the mark only guards tokens minted just before.
      logger.error({ err, userId }, 'suspension mark not written to Redis');
    }
    await afterCommit();
    if (suspend) await redis.publish(sessionsEndedChannel(keyPrefix), userId).catch((err: unknown) => logger.warn({ err }, 'gateways not told; their reuse of the sessions ends within SESSION_CACHE_TTL'));
    return { userId, suspended: suspend, auditId };
  }

  return {
    suspend: (actorId: string, userId: string, reason: string) => change(actorId, userId, reason, true),
    unsuspend: (actorId: string, userId: string, reason: string) => change(actorId, userId, reason, false),
  };
}
export type SuspensionService = ReturnType<typeof createSuspensionService>;
