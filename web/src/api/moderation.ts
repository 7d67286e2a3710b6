/**
 * Reporting a gallery image (anyone) and the moderators' review queue: the API calls and query hooks.
 */
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { ok, type Schemas } from '@imlab/client';
import { api } from './index';

export type ModerationItem = Schemas['ModerationItem'];
export type ModerationReason = ModerationItem['reports'][number]['reason'];
/** The fixed list, in the order the forms offer it (the API's MODERATION_REASONS). */
export const MODERATION_REASONS: readonly ModerationReason[] = ['sexual', 'minors', 'violence', 'hate', 'harassment', 'self-harm', 'illegal', 'copyright', 'spam', 'other'];
export type QueueStatus = 'open' | 'taken-down';

export const moderationKeys = {
  queue: (status: QueueStatus) => ['moderation', 'queue', status] as const,
};

export function reportImage({ id, reason, note }: { id: string; reason: ModerationReason; note: string }) {
  return ok(api.POST('/v1/images/{id}/reports', { params: { path: { id } }, body: { reason, ...(note.trim() ? { note: note.trim() } : {}) } }));
}

export function useReportImage() {
  return useMutation({ mutationFn: reportImage });
}

export function useModerationQueue(status: QueueStatus) {
  return useInfiniteQuery({
    queryKey: moderationKeys.queue(status),
    queryFn: ({ pageParam }) => ok(api.GET('/v1/admin/moderation/images', { params: { query: { status, limit: 20, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    retry: 1,
  });
}

export type Decision =
  | { action: 'dismiss'; id: string; reason: string }
  | { action: 'takedown'; id: string; reason: string; rule: ModerationReason }
  | { action: 'restore'; id: string; reason: string };

export function decide(d: Decision) {
  const path = { params: { path: { id: d.id } } };
  switch (d.action) {
    case 'dismiss':
      return ok(api.POST('/v1/admin/moderation/images/{id}/dismiss', { ...path, body: { reason: d.reason } }));
    case 'takedown':
      return ok(api.POST('/v1/admin/moderation/images/{id}/takedown', { ...path, body: { reason: d.reason, rule: d.rule } }));
    case 'restore':
      return ok(api.POST('/v1/admin/moderation/images/{id}/restore', { ...path, body: { reason: d.reason } }));
  }
}

export function useDecide() {
  const client = useQueryClient();
  return useMutation({ mutationFn: decide, onSuccess: () => client.invalidateQueries({ queryKey: ['moderation'] }) });
}
