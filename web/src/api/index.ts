/**
 * Every call the web app makes to the API goes through the typed client generated from the
 * gateway's OpenAPI document (@imlab/client): same origin, with the session cookie. A problem
 * answer becomes an ApiError whose `problem.detail` is already in the person's language (the API
 * reads the `locale` cookie).
 */
import { ApiError, createApiClient, ok, type Schemas } from '@imlab/client';

export { refusedRule } from './refusal';

export { ApiError };

/** The account, as `GET /v1/me` answers it. */
export type Me = Schemas['Account'];
/** `GET /v1/credits/balance`. */
export type Balance = Awaited<ReturnType<typeof getBalance>>;
export type SignUpRequest = Schemas['SignupRequest'];
export type SignInRequest = Schemas['LoginRequest'];

/** The page's own origin (the gateway serves both the app and the API). */
export const api = createApiClient({ baseUrl: location.origin });

/** The API answered with one of these statuses (a refusal the caller expects, not a failure). */
export function hasStatus(err: unknown, ...statuses: number[]): boolean {
  return err instanceof ApiError && statuses.includes(err.status);
}

/** The signed-in account, or null when signed out (401). */
export async function getMe(): Promise<Me | null> {
  try {
    return await ok(api.GET('/v1/me'));
  } catch (err) {
    if (hasStatus(err, 401)) return null;
    throw err;
  }
}

export function getBalance() {
  return ok(api.GET('/v1/credits/balance'));
}

/** Ends this browser's session (`POST /v1/auth/logout`). */
export async function signOut(): Promise<void> {
  await ok(api.POST('/v1/auth/logout'));
}

/** Creates an account; the answer (202) is the same whether or not the address can be used. */
export async function signUp(body: SignUpRequest): Promise<void> {
  await ok(api.POST('/v1/auth/signup', { body }));
}

/** Confirms an address with the token from its email. */
export async function verifyEmail(token: string): Promise<void> {
  await ok(api.POST('/v1/auth/verify-email', { body: { token } }));
}

/** Asks for a new confirmation link for an account still waiting for one (the answer never says whether there is one). */
export async function resendVerification(email: string): Promise<void> {
  await ok(api.POST('/v1/auth/verify-email/resend', { body: { email } }));
}

/** Signs in with email and password: the session cookie is set, the account answered. */
export function signIn(body: SignInRequest): Promise<Me> {
  return ok(api.POST('/v1/auth/login', { body }));
}

/** Asks for a reset link; the answer (202) is the same whether or not an account exists. */
export async function requestPasswordReset(email: string): Promise<void> {
  await ok(api.POST('/v1/auth/password/forgot', { body: { email } }));
}

/** Sets a new password with the token from the reset email. */
export async function resetPassword(token: string, password: string): Promise<void> {
  await ok(api.POST('/v1/auth/password/reset', { body: { token, password } }));
}

/** What to show for a failed call: the API's own (localized) detail, when it gave one. */
export function problemDetail(err: unknown): string | undefined {
  return err instanceof ApiError ? err.problem?.detail : undefined;
}

/**
 * What a form tells the person after its request failed: the API's own words (already in their
 * language), else `fallback`; nothing while it has not failed.
 */
export function failureOf(state: { isError: boolean; error: unknown }, fallback: string, fields: FailureFields = {}): string | undefined {
  if (!state.isError || fieldOfFailure(state.error, fields)) return undefined;
  return problemDetail(state.error) ?? fallback;
}

/** A form's refusals that are about one of its fields: error code → field id. */
export type FailureFields = Partial<Record<string, string>>;

/**
 * The field a refusal is about (its code in `fields`, with words of the API's to show there), or
 * undefined: such a refusal is said at the field, not in the form's alert (see showAtField).
 */
export function fieldOfFailure(err: unknown, fields: FailureFields): string | undefined {
  if (!(err instanceof ApiError) || !err.problem?.detail) return undefined;
  return fields[err.code];
}
