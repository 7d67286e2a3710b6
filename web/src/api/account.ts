/**
 * The account's own calls (settings: profile, sessions, credit history, export, deletion) and the
 * finance views, with their query hooks. Every call goes through the generated client.
 */
import { download, ok, type Schemas } from '@imlab/client';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, hasStatus, type Me } from './index';
import { forgetAccount, queryKeys } from './queries';
import { inOrder } from './in-order';
import type { Locale } from '../i18n/locale';

export type Session = Schemas['Session'];
export type CreditLine = Schemas['CreditTransactionPage']['items'][number];
export type DataExport = Schemas['DataExport'];
export type AccountUpdate = Schemas['AccountUpdate'];
export type TrialBalance = Schemas['TrialBalance'];
export type LedgerStatement = Schemas['LedgerStatement'];
export type LedgerAccountBalance = Schemas['LedgerAccountBalance'];
export type LedgerVerification = Schemas['LedgerVerification'];
export type Reconciliation = Schemas['Reconciliation'];

export const accountKeys = {
  sessions: ['me', 'sessions'] as const,
  credits: (lang: string) => ['credits', 'transactions', lang] as const,
  export: (id: string) => ['me', 'exports', id] as const,
  trialBalance: ['finance', 'trial-balance'] as const,
};

/** How long one of the account's writes may take before the next one goes (see inOrder). */
const ACCOUNT_WRITE_TIMEOUT_MS = 20_000;
const accountWrites = inOrder(ACCOUNT_WRITE_TIMEOUT_MS);

/**
 * Changes the display name and/or the language (auth also sets the `locale` cookie). The profile
 * form and the header's language switch both write the account: their requests go one at a time,
 * in the order they were made, so they reach auth in that order and each answer holds every change
 * made before it (the last answer is the account as the person left it).
 */
export function updateAccount(body: AccountUpdate): Promise<Me> {
  return accountWrites((signal) => ok(api.PATCH('/v1/me', { body, signal })));
}

/**
 * The header's language switch, signed in: the account's language follows, so emails come in it.
 * A failure is swallowed: the switch itself already happened.
 */
export async function saveLocale(locale: Locale): Promise<Me | undefined> {
  try {
    return await updateAccount({ locale });
  } catch {
    return undefined;
  }
}

export function listSessions() {
  return ok(api.GET('/v1/me/sessions'));
}

/**
 * Ends one of the account's sessions. One that has already ended (signed out or expired there
 * since the list was loaded: 404) is what was asked for: done, and the list is read again.
 */
export async function revokeSession(id: string): Promise<void> {
  try {
    await ok(api.DELETE('/v1/me/sessions/{id}', { params: { path: { id } } }));
  } catch (err) {
    if (!hasStatus(err, 404)) throw err;
  }
}

export async function signOutEverywhere(): Promise<void> {
  await ok(api.POST('/v1/auth/logout-all'));
}

export function creditHistory(cursor: string | undefined) {
  return ok(api.GET('/v1/credits/transactions', { params: { query: { limit: 20, ...(cursor ? { cursor } : {}) } } }));
}

export function startExport(): Promise<DataExport> {
  return ok(api.POST('/v1/me/exports'));
}

export function getExport(id: string): Promise<DataExport> {
  return ok(api.GET('/v1/me/exports/{id}', { params: { path: { id } } }));
}

/** Closes the account: every session ends; everything is deleted after the grace period. */
export function deleteAccount(password: string | undefined) {
  return ok(api.DELETE('/v1/me', { body: password === undefined ? {} : { password } }));
}

/** Changes the password (or sets a first one on a Google-only account); other sessions end. */
export async function changePassword(body: Schemas['PasswordChangeRequest']): Promise<void> {
  await ok(api.PUT('/v1/me/password', { body }));
}

/** Mails a confirmation link to the new address; the same answer whether or not it can be used. */
export async function requestEmailChange(body: Schemas['EmailChangeRequest']): Promise<void> {
  await ok(api.POST('/v1/me/email', { body }));
}

/**
 * What an email-change link will do, without using it: the account's address now (masked) and
 * the one it will have. `confirm`: the link sent to the new address; `undo`: the one sent to the old.
 */
export function previewEmailChange(kind: 'confirm' | 'undo', token: string): Promise<Schemas['EmailChangePreview']> {
  return ok(kind === 'confirm' ? api.POST('/v1/auth/email/confirm/preview', { body: { token } }) : api.POST('/v1/auth/email/undo/preview', { body: { token } }));
}

/** The link from the new inbox: the account moves to it. */
export function confirmEmailChange(token: string): Promise<Schemas['EmailChanged']> {
  return ok(api.POST('/v1/auth/email/confirm', { body: { token } }));
}

/** The link from the old inbox: the change is taken back and the account locked down. */
export async function undoEmailChange(token: string): Promise<void> {
  await ok(api.POST('/v1/auth/email/undo', { body: { token } }));
}

/** Where to send the browser to choose the Google account to link. */
export function startGoogleLink(currentPassword: string | undefined): Promise<Schemas['GoogleLinkStart']> {
  return ok(api.POST('/v1/me/google/link', { body: currentPassword ? { currentPassword } : {} }));
}

export async function unlinkGoogle(currentPassword: string | undefined): Promise<void> {
  await ok(api.POST('/v1/me/google/unlink', { body: currentPassword ? { currentPassword } : {} }));
}

/** Keeps an account scheduled for deletion (the token from the sign-in's answer); signs in. */
export function restoreAccount(token: string): Promise<Me> {
  return ok(api.POST('/v1/auth/account/restore', { body: { token } }));
}

/** A file of the API (an export archive, the ledger CSV), saved by the browser under `name`. */
export async function saveFile(path: string, name: string): Promise<void> {
  const blob = await download({ baseUrl: location.origin }, path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function getTrialBalance() {
  return ok(api.GET('/v1/admin/ledger/trial-balance'));
}

export function getStatement(id: string, from: string, to: string) {
  return Promise.all([
    ok(api.GET('/v1/admin/ledger/accounts/{id}/statement', { params: { path: { id }, query: { from, to, limit: 100 } } })),
    ok(api.GET('/v1/admin/ledger/accounts/{id}/balance', { params: { path: { id } } })),
  ]).then(([statement, balance]) => ({ statement, balance }));
}

export function getReconciliation(from: string, to: string) {
  return ok(api.GET('/v1/admin/billing/reconciliation', { params: { query: { from, to } } }));
}

export function verifyLedger() {
  return ok(api.GET('/v1/admin/ledger/verify'));
}

// --- hooks ---

export function useUpdateAccount() {
  const client = useQueryClient();
  return useMutation({ mutationFn: updateAccount, onSuccess: (me) => client.setQueryData(queryKeys.me, me) });
}

export function useChangePassword() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: changePassword,
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: queryKeys.me });
      void client.invalidateQueries({ queryKey: accountKeys.sessions });
    },
  });
}

export function useRequestEmailChange() {
  return useMutation({ mutationFn: requestEmailChange });
}

export function useUnlinkGoogle() {
  const client = useQueryClient();
  return useMutation({ mutationFn: unlinkGoogle, onSuccess: () => client.invalidateQueries({ queryKey: queryKeys.me }) });
}

export function useStartGoogleLink() {
  return useMutation({ mutationFn: startGoogleLink, onSuccess: ({ url }) => location.assign(url) });
}

export function useRestoreAccount() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: restoreAccount,
    onSuccess: (me) => forgetAccount(client, me),
  });
}

export function useSessions(enabled: boolean) {
  return useQuery({ queryKey: accountKeys.sessions, queryFn: listSessions, enabled, retry: 1 });
}

export function useRevokeSession() {
  const client = useQueryClient();
  return useMutation({ mutationFn: revokeSession, onSuccess: () => client.invalidateQueries({ queryKey: accountKeys.sessions }) });
}

/** After the account's sessions ended (everywhere, or the account closed): the app is signed out. */
function useSignedOut() {
  const client = useQueryClient();
  return () => forgetAccount(client, null);
}

export function useSignOutEverywhere() {
  const signedOut = useSignedOut();
  return useMutation({ mutationFn: signOutEverywhere, onSuccess: signedOut });
}

export function useDeleteAccount() {
  const signedOut = useSignedOut();
  return useMutation({ mutationFn: deleteAccount, onSuccess: signedOut });
}

/** The credit history, newest first, a page at a time; the lines' words are in `lang` (the API's). */
export function useCreditHistory(enabled: boolean, lang: string) {
  return useInfiniteQuery({
    queryKey: accountKeys.credits(lang),
    queryFn: ({ pageParam }) => creditHistory(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled,
    retry: 1,
  });
}

export function useStartExport() {
  const client = useQueryClient();
  return useMutation({ mutationFn: startExport, onSuccess: (e) => client.setQueryData(accountKeys.export(e.id), e) });
}

/**
 * One export, asked again every 2 s until it is ready or failed, or gone (404). A check that
 * fails otherwise (the network, a 5xx, a 429) is tried again at the next tick: it does not stop
 * the waiting.
 */
export function useExport(id: string | undefined) {
  return useQuery({
    queryKey: accountKeys.export(id ?? ''),
    queryFn: () => getExport(id!),
    enabled: !!id,
    retry: false,
    refetchInterval: (q) => ((q.state.status === 'error' && hasStatus(q.state.error, 404)) || q.state.data?.status === 'ready' || q.state.data?.status === 'failed' ? false : 2000),
  });
}

export function useTrialBalance(enabled: boolean) {
  return useQuery({ queryKey: accountKeys.trialBalance, queryFn: getTrialBalance, enabled, retry: 1 });
}
