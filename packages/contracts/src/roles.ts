export const ROLES = ['user', 'admin', 'finance', 'ops'] as const;
export type Role = (typeof ROLES)[number];

/** Claims of the ~60 s internal JWT that auth signs and every service verifies. */
export interface InternalClaims {
  sub: string;
  sid: string;
  roles: Role[];
}
export const INTERNAL_JWT_ISSUER = 'imlab-auth';
