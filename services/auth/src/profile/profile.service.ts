import type { Static } from '@sinclair/typebox';
import { AppError } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import { sealEmail } from '../accounts/emails.js';
import * as repo from '../accounts/accounts.repository.js';
import type { UserRow } from '../accounts/accounts.repository.js';
import type { Me } from '../accounts/accounts.schemas.js';

export function toMe(user: UserRow, google: boolean): Static<typeof Me> {
  return {
    id: user.id,
    email: user.email,
    emailVerified: user.email_verified_at !== null,
    displayName: user.display_name,
    locale: user.locale,
    roles: user.roles,
    hasPassword: user.password_hash !== null,
    google,
    createdAt: user.created_at.toISOString(),
  };
}

const gone = () => new AppError('UNAUTHENTICATED');

export function createProfileService(deps: AuthDeps) {
  const { db, bus, config } = deps;
  return {
    async get(userId: string): Promise<Static<typeof Me>> {
      const user = await repo.findUserById(db, userId);
      if (!user || user.status !== 'active') throw gone();
      return toMe(user, (await repo.listIdentities(db, userId)).length > 0);
    },

    /** Display name and locale; notification learns the change through user.updated. */
    async update(userId: string, patch: { displayName?: string; locale?: 'en' | 'zh' }): Promise<Static<typeof Me>> {
      const user = await db.transaction().execute(async (tx) => {
        const updated = await repo.updateProfile(tx, userId, patch);
        if (!updated) throw gone();
        await bus.send(tx, 'user.updated', { userId, email: sealEmail(config, updated.email), locale: updated.locale, displayName: updated.display_name });
        return updated;
      });
      return toMe(user, (await repo.listIdentities(db, userId)).length > 0);
    },
  };
}

export type ProfileService = ReturnType<typeof createProfileService>;
