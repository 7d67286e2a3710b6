import type { Locale } from './messages/common.js';

export const ROLES = ['user', 'admin', 'finance', 'ops'] as const;
export type Role = (typeof ROLES)[number];

/** Claims of the ~60 s internal JWT that auth signs and every service verifies. */
export interface InternalClaims {
  sub: string;
  sid: string;
  roles: Role[];
  /** The account's language; services answer problems and texts in it when no `locale` cookie says otherwise. */
  locale?: Locale;
}
export const INTERNAL_JWT_ISSUER = 'imlab-auth';
