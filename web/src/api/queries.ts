import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getBalance, getMe, signOut } from './index';

export const queryKeys = {
  me: ['me'] as const,
  balance: ['credits', 'balance'] as const,
};

/** The signed-in account (null when signed out); undefined while loading or when the API is unreachable. */
export function useMe() {
  return useQuery({ queryKey: queryKeys.me, queryFn: getMe, staleTime: 60_000, retry: 1 });
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
