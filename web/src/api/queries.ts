import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ok } from '@imlab/client';
import { api, getBalance, getMe, signIn, signOut } from './index';
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

export function useSignOut() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: signOut,
    onSuccess: () => {
      client.setQueryData(queryKeys.me, null);
      client.removeQueries({ queryKey: queryKeys.balance });
    },
  });
}

/** Signs in; the header learns the account from the answer. */
export function useSignIn() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: signIn,
    onSuccess: (me) => {
      client.setQueryData(queryKeys.me, me);
      void client.invalidateQueries({ queryKey: queryKeys.balance });
      // The account's language from now on, as the sign-in's locale cookie says (and a reload would show).
      if (me.locale !== i18n.language) void switchLocale(me.locale);
    },
  });
}
