import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { AppError } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { SessionService } from '../sessions/sessions.service.js';
import type { AccountService } from '../accounts/accounts.service.js';
import type { Caller } from '../http/request-auth.js';
import * as accountsRepo from '../accounts/accounts.repository.js';
import * as sessionsRepo from '../sessions/sessions.repository.js';
import * as repo from './privacy.repository.js';
import type { ExportRow } from './privacy.repository.js';
import { publicLink, sendEmail } from '../accounts/emails.js';
import { toMe } from '../profile/profile.service.js';
import { fetchInternal, fetchUserExport, inlineInternalFiles } from './export-fetch.js';
import { createZipFile } from './zip-file.js';
import { auditExportFor, forgetInAudit } from '../audit/index.js';
import { suspendedUserKey } from '@imlab/contracts';
import { createReceipts } from './receipts.js';

const README = `Your imagemakerlab export.

profile.json   your account: email, name, language, sign-in methods, active sessions
credits.json   your credit balance and every transaction
orders.json    your purchases: credit packs, amounts paid, refunds and disputes
images.json    your generations (prompts, settings, status) and uploads; each image's "file"
images/        the images themselves
uploads/       reference images you uploaded
audit.json     what our staff did that concerned you (image takedowns, suspensions, goodwill
               credits, support look-ups), with their written reasons
`;

const MAX_EXPORT_ATTEMPTS = 5;
const EXPORT_LEASE_SECONDS = 300;

export function exportView(row: ExportRow) {
  return {
    id: row.id,
    status: row.status,
    createdAt: row.created_at.toISOString(),
    ...(row.completed_at ? { completedAt: row.completed_at.toISOString() } : {}),
    ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
    ...(row.status === 'ready' ? { downloadUrl: `/v1/me/exports/${row.id}/download` } : {}),
  };
}

export function createPrivacyService(deps: AuthDeps, sessions: SessionService, accounts: AccountService) {
  const { config, db, bus, logger } = deps;
  const receipts = createReceipts(deps);
  const exportDir = resolve(config.EXPORT_DIR);

  return {
    exportDir,
    receipts,

    /**
     * Disables the account now (sessions revoked, sign-in refused) and schedules the purge.
     * Needs the password, or a sign-in within RECENT_LOGIN_WINDOW (Google-only accounts).
     */
    async requestDeletion(caller: Caller, password: string | undefined): Promise<{ purgeAfter: string }> {
      const user = await accountsRepo.findUserById(db, caller.userId);
      if (!user || user.status !== 'active') throw new AppError('UNAUTHENTICATED');
      await accounts.reauthenticate(caller, user, password);
      const purgeAfter = new Date(Date.now() + config.ACCOUNT_PURGE_DELAY * 1000);
      const afterCommit = await db.transaction().execute(async (tx) => {
        await accountsRepo.markDeleted(tx, user.id, purgeAfter);
        const done = await sessions.revokeAllIn(tx, user.id);
        await bus.send(tx, 'user.deletion-requested', { userId: user.id, purgeAfter: purgeAfter.toISOString() });
        await sendEmail(config, bus, tx, {
          template: 'account-deletion-scheduled',
          user,
          data: { purgeAfter: purgeAfter.toISOString(), displayName: user.display_name },
          idempotencyKey: `account-deletion-scheduled:${user.id}`,
        });
        return done;
      });
      await afterCommit();
      return { purgeAfter: purgeAfter.toISOString() };
    },

    /**
     * One due purge: every other service is told (`user.purge`, same transaction as the delete),
     * then auth's own rows go — profile, identities, sessions, tokens, exports — and sent outbox
     * rows that named the person. Returns false when nothing was due.
     */
    async purgeOne(): Promise<boolean> {
      const purged = await db.transaction().execute(async (tx) => {
        const user = await accountsRepo.claimDuePurge(tx);
        if (!user) return undefined;
        const hashes = await sessionsRepo.tokenHashesOf(tx, user.id);
        const files = await repo.exportFilesOf(tx, user.id);
        await repo.scrubSentOutbox(tx, user.id, user.email);
        // The receipt's id names nobody: every service reports its part done under it.
        const deletionId = uuidv7();
        await receipts.open(tx, user, deletionId);
        await bus.send(tx, 'user.purge', { userId: user.id, deletionId });
        await accountsRepo.unlinkBonusClaims(tx, user.id);
        await accountsRepo.deleteUser(tx, user.id);
        // the audit log keeps what staff did, but no longer whom it concerned (or who did it)
        await forgetInAudit(tx, user.id);
        return { userId: user.id, email: user.email, hashes, files };
      });
      if (!purged) return false;
      await Promise.all(purged.files.map((f) => rm(join(exportDir, f), { force: true })));
      await sessions.dropCached(purged.hashes);
      await accounts.backoff.clear(purged.email);
      // a suspension's mark names them too
      await deps.redis.del(suspendedUserKey(deps.keyPrefix, purged.userId)).catch(() => undefined);
      logger.info({ userId: purged.userId }, 'account purged');
      return true;
    },

    async requestExport(userId: string): Promise<ExportRow> {
      const open = await repo.findOpenExport(db, userId);
      if (open) return open;
      return repo.insertExport(db, { id: uuidv7(), userId });
    },

    async getExport(userId: string, id: string): Promise<ExportRow> {
      const row = await repo.findExport(db, userId, id);
      if (!row) throw new AppError('NOT_FOUND', { message: 'export not found' });
      return row;
    },

    /** Path of a ready, unexpired archive owned by `userId`. */
    async exportFile(userId: string, id: string): Promise<string> {
      const row = await repo.findExport(db, userId, id);
      if (!row || row.status !== 'ready' || !row.file_name || (row.expires_at && row.expires_at < new Date())) {
        throw new AppError('NOT_FOUND', { message: 'export not found or not ready' });
      }
      return join(exportDir, row.file_name);
    },

    /** Builds one pending export: profile from here, credits, images and orders from their services, zipped. */
    async buildOne(): Promise<boolean> {
      const job = await repo.claimExport(db, EXPORT_LEASE_SECONDS);
      if (!job) return false;
      const log = logger.child({ exportId: job.id });
      try {
        const user = await accountsRepo.findUserById(db, job.user_id);
        if (!user || user.status !== 'active') throw new Error('account is not active');
        const identities = await accountsRepo.listIdentities(db, user.id);
        const liveSessions = await sessionsRepo.listLiveSessions(db, user.id);
        const profile = {
          ...toMe(user, identities.length > 0),
          googleIdentities: identities,
          sessions: liveSessions.map((s) => ({ createdAt: s.created_at.toISOString(), lastSeenAt: s.last_seen_at.toISOString(), device: s.device })),
        };
        const [credits, images, orders] = await Promise.all([
          fetchUserExport(config.LEDGER_URL, user.id, await deps.keys.serviceToken('credits-ledger')),
          fetchUserExport(config.GENERATION_URL, user.id, await deps.keys.serviceToken('generation')),
          fetchUserExport(config.BILLING_URL, user.id, await deps.keys.serviceToken('billing')),
        ]);
        await mkdir(exportDir, { recursive: true });
        const fileName = `${job.id}.zip`;
        const tmp = join(exportDir, `${fileName}.part`);
        const archive = createZipFile(tmp);
        let bytes: number;
        try {
          const text = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value, null, 2));
          archive.add('README.txt', text(README), true);
          archive.add('profile.json', text(profile), true);
          archive.add('credits.json', text(credits), true);
          archive.add('orders.json', text(orders), true);
          // back-office actions that concerned them (takedowns, suspensions, goodwill credits…)
          archive.add('audit.json', text(await auditExportFor(db, user.id)), true);
          // image files first, then the listing that points at them
          await inlineInternalFiles(images, async (path) => fetchInternal(config.GENERATION_URL, path, await deps.keys.serviceToken('generation')), (name, data) => archive.add(name, data));
          archive.add('images.json', text(images), true);
          bytes = await archive.finish();
        } catch (err) {
          archive.abort();
          await rm(tmp, { force: true });
          throw err;
        }
        await rename(tmp, join(exportDir, fileName));
        const expiresAt = new Date(Date.now() + config.EXPORT_TTL * 1000);
        await db.transaction().execute(async (tx) => {
          await repo.markExportReady(tx, job.id, fileName, expiresAt);
          await sendEmail(config, bus, tx, {
            template: 'export-ready',
            user,
            data: { link: publicLink(config, `/v1/me/exports/${job.id}/download`), displayName: user.display_name, expiresAt: expiresAt.toISOString() },
            idempotencyKey: `export-ready:${job.id}`,
          });
        });
        log.info({ bytes }, 'export ready');
      } catch (err) {
        const failed = job.attempts >= MAX_EXPORT_ATTEMPTS;
        log.warn({ err: { message: (err as Error).message }, attempt: job.attempts, failed }, 'export attempt failed');
        // retried later with a growing pause; after MAX_EXPORT_ATTEMPTS the person sees `failed`
        await repo.markExportRetry(db, job.id, (err as Error).message.slice(0, 200), failed ? null : 30 * 2 ** (job.attempts - 1));
      }
      return true;
    },

    async sweepExpiredExports(): Promise<number> {
      const gone = await repo.takeExpiredExports(db);
      await Promise.all(gone.filter((g) => g.file_name).map((g) => rm(join(exportDir, g.file_name!), { force: true })));
      return gone.length;
    },

    /**
     * Archive files no ready export points at — left by a crash between deleting a row (purge,
     * expiry) and its file, or by a build that died with its `.part` — hold a whole profile, prompts
     * and images: they are removed once older than a build may take.
     */
    async sweepOrphanFiles(now = Date.now()): Promise<number> {
      const names = (await readdir(exportDir).catch(() => [] as string[])).filter((n) => /^[0-9a-f-]{36}\.zip(\.part)?$/.test(n));
      if (names.length === 0) return 0;
      const kept = new Set(await repo.readyExportFiles(db, names));
      let removed = 0;
      for (const name of names) {
        if (kept.has(name)) continue;
        const info = await stat(join(exportDir, name)).catch(() => undefined);
        if (!info || now - info.mtimeMs < EXPORT_LEASE_SECONDS * 1000) continue;
        await rm(join(exportDir, name), { force: true });
        removed += 1;
      }
      if (removed > 0) logger.warn({ removed }, 'removed export archives no export points at');
      return removed;
    },

    /** One pass of the background work; the worker loop and tests call it. */
    async runOnce(): Promise<{ purged: number; exports: number }> {
      let purged = 0;
      while (await this.purgeOne()) purged += 1;
      let exports = 0;
      while (exports < 10 && (await this.buildOne())) exports += 1;
      await this.sweepExpiredExports();
      await this.sweepOrphanFiles();
      await accountsRepo.deleteBonusClaimsBefore(db, new Date(Date.now() - config.SIGNUP_BONUS_WINDOW * 1000));
      return { purged, exports };
    },
  };
}

export type PrivacyService = ReturnType<typeof createPrivacyService>;

/** Polls for due purges and pending exports until stopped. */
export function startPrivacyWorker(privacy: PrivacyService, intervalMs: number, logger: AuthDeps['logger']): { close(): Promise<void> } {
  let stopped = false;
  let running: Promise<unknown> | undefined;
  const tick = () => {
    if (stopped) return;
    running = privacy
      .runOnce()
      .catch((err: unknown) => logger.error({ err }, 'privacy worker pass failed'))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  let timer: NodeJS.Timeout = setTimeout(tick, 0);
  return {
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
