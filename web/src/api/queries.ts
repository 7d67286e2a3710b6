import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { ok } from '@imlab/client';
import { api, getBalance, getMe, signIn, signOut, type Me } from './index';
import { i18n, switchLocale } from '../i18n';

export const queryKeys = {
  me: ['me'] as const,
  balance: ['credits', 'balance'] as const,
  signInMethods: ['auth', 'methods'] as const,
};

/** The signed-in account (null when signed out); undefined while loading or when the API is unreachable. */
export function useMe() {
  return useQuery({ queryKey: queryKeys.me, queryFn: getMe, staleTime: 60_000, retry: 1 });
}

/** How people sign in here: an email address and a password, and Google where this deployment has a Google client. */
export function useSignInMethods() {
  return useQuery({ queryKey: queryKeys.signInMethods, queryFn: () => ok(api.GET('/v1/auth/methods')), staleTime: 300_000, retry: 1 });
}

export function useBalance(enabled: boolean) {
  return useQuery({ queryKey: queryKeys.balance, queryFn: getBalance, enabled, staleTime: 30_000, retry: 1 });
}

/** What anyone may see, the same signed in or out: kept when the person changes. */
const PUBLIC_QUERIES: readonly (readonly string[])[] = [['gallery'], ['pricing'], ['generations', 'options'], queryKeys.signInMethods];
const isPublic = (key: readonly unknown[]) => PUBLIC_QUERIES.some((p) => p.every((part, i) => key[i] === part));

/**
 * The person changed (signed out, closed the account, or signed in, perhaps as someone else in the
 * same tab): nothing of the last person's stays in the cache (their credit history, sessions,
 * orders, generations, exports, staff views), so no page shows it while the new person's loads.
 * Then the account is `me` (null: signed out). The account's own entry is kept and overwritten, so
 * the header, which watches it, follows at once.
 */
export function forgetAccount(client: QueryClient, me: Me | null): void {
  client.removeQueries({ predicate: (q) => !isPublic(q.queryKey) && !(q.queryKey.length === 1 && q.queryKey[0] === queryKeys.me[0]) });
  client.setQueryData(queryKeys.me, me);
}

export function useSignOut() {
  const client = useQueryClient();
  return useMutation({ mutationFn: signOut, onSuccess: () => forgetAccount(client, null) });
}

/** Signs in; the header learns the account from the answer. */
export function useSignIn() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: signIn,
    onSuccess: (me) => {
      forgetAccount(client, me);
      // The account's language from now on, as the sign-in's locale cookie says (and a reload would show).
      if (me.locale !== i18n.language) void switchLocale(me.locale);
    },
  });
}
