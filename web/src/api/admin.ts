/**
 * The admin's back office: support look-up, suspension, goodwill credits, the audit log, daily
 * metrics and fraud signals. Every action carries the written reason the audit log keeps.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ok, type Schemas } from '@imlab/client';
import { api } from './index';

export type SupportAccount = Schemas['SupportAccount'];
export type AuditEntry = Schemas['AuditEntry'];

export const adminKeys = {
  audit: ['admin', 'audit'] as const,
  metrics: (from: string, to: string) => ['admin', 'metrics', from, to] as const,
  fraud: ['admin', 'fraud'] as const,
};

export function lookUp(body: { email?: string; userId?: string; reason: string; showPrompts: boolean }) {
  return ok(api.POST('/v1/admin/support/lookup', { body }));
}

export function useLookUp() {
  const client = useQueryClient();
  return useMutation({ mutationFn: lookUp, onSuccess: () => client.invalidateQueries({ queryKey: adminKeys.audit }) });
}

export function setSuspended({ id, reason, suspend }: { id: string; reason: string; suspend: boolean }) {
  const opts = { params: { path: { id } }, body: { reason } };
  return ok(suspend ? api.POST('/v1/admin/accounts/{id}/suspend', opts) : api.POST('/v1/admin/accounts/{id}/unsuspend', opts));
}

export function useSetSuspended() {
  const client = useQueryClient();
  return useMutation({ mutationFn: setSuspended, onSuccess: () => client.invalidateQueries({ queryKey: adminKeys.audit }) });
}

/** A goodwill grant; the key (see useRequestKey) makes a retry of the same grant answer the first one. */
export function grantGoodwill({ key, ...body }: { userId: string; amount: number; reason: string; key: string }) {
  return ok(api.POST('/v1/admin/ledger/goodwill', { body, params: { header: { 'idempotency-key': key } } }));
}

export function useGrantGoodwill() {
  const client = useQueryClient();
  return useMutation({ mutationFn: grantGoodwill, onSuccess: () => client.invalidateQueries({ queryKey: adminKeys.audit }) });
}

export function useAuditLog() {
  return useQuery({ queryKey: adminKeys.audit, queryFn: () => ok(api.GET('/v1/admin/audit', { params: { query: { limit: 20 } } })), retry: 1 });
}

export function useDailyMetrics(from: string, to: string) {
  return useQuery({ queryKey: adminKeys.metrics(from, to), queryFn: () => ok(api.GET('/v1/admin/metrics/daily', { params: { query: { from, to } } })), retry: 1 });
}

export function useFraudSignals() {
  return useQuery({ queryKey: adminKeys.fraud, queryFn: () => ok(api.GET('/v1/admin/fraud/signals')), retry: 1 });
}
