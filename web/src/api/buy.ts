/**
 * The gallery, the pricing and buying credits: the API calls and query hooks of those pages.
 */
import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { ok, type Schemas } from '@imlab/client';
import { api } from './index';

export type GalleryImage = Schemas['GalleryImage'];
export type Pricing = Schemas['Pricing'];
export type CreditPack = Schemas['CreditPack'];
export type Tier = Schemas['GenerationTierOptions'];
export type Order = Schemas['Order'];

export const buyKeys = {
  gallery: (limit: number) => ['gallery', limit] as const,
  pricing: ['pricing'] as const,
  options: ['generations', 'options'] as const,
  orders: ['billing', 'orders'] as const,
  order: (id: string) => ['billing', 'orders', id] as const,
  purchase: (orderId: string) => ['credits', 'purchase', orderId] as const,
};

/**
 * One page of the public gallery (newest first). The answer may be kept 15 s by shared caches
 * (`max-age=15`); this browser asks again each time (`no-cache`), so a person who has just
 * published or taken out an image sees the gallery as it is now (the query's own staleTime still
 * spares repeated visits).
 */
export function getGallery(cursor: string | undefined, limit: number) {
  return ok(api.GET('/v1/gallery', { params: { query: { limit, ...(cursor ? { cursor } : {}) } }, cache: 'no-cache' }));
}

/** The gallery, page after page (`fetchNextPage` follows `nextCursor`). */
export function useGallery(limit = 24) {
  return useInfiniteQuery({
    queryKey: buyKeys.gallery(limit),
    queryFn: ({ pageParam }) => getGallery(pageParam, limit),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    staleTime: 30_000,
    retry: 1,
  });
}

export function usePricing() {
  return useQuery({ queryKey: buyKeys.pricing, queryFn: () => ok(api.GET('/v1/pricing')), staleTime: 300_000, retry: 1 });
}

/** What each tier offers (sizes and their price, count, seed, negative prompt, references). */
export function useTierOptions() {
  return useQuery({ queryKey: buyKeys.options, queryFn: () => ok(api.GET('/v1/generations/options')), staleTime: 300_000, retry: 1 });
}

/**
 * Starts a Stripe Checkout for a pack and answers where to send the browser. The key is the page's
 * (useRequestKey): a request repeated after a lost answer answers the same order, not a second one.
 */
export function startCheckout({ packId, locale, key }: { packId: string; locale: 'en' | 'zh'; key: string }) {
  return ok(api.POST('/v1/billing/checkout', { body: { packId, locale }, params: { header: { 'idempotency-key': key } } }));
}

export function useCheckout() {
  return useMutation({ mutationFn: startCheckout });
}

/** The person's orders, page after page (newest first). */
export function useOrders(enabled: boolean) {
  return useInfiniteQuery({
    queryKey: buyKeys.orders,
    queryFn: ({ pageParam }) => ok(api.GET('/v1/billing/orders', { params: { query: { limit: 20, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled,
    retry: 1,
  });
}

/**
 * One order of the person, found in their orders (newest first; an order just bought is on the
 * first page, older ones a few pages on). Null when it is not theirs or does not exist.
 */
export async function findOrder(id: string): Promise<Order | null> {
  let cursor: string | undefined;
  for (let page = 0; page < 5; page++) {
    const res = await ok(api.GET('/v1/billing/orders', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }));
    const found = res.items.find((o) => o.id === id);
    if (found) return found;
    if (!res.nextCursor) return null;
    cursor = res.nextCursor;
  }
  return null;
}

/** The order, asked again every `every` ms while `every` is set (the success page waits for the payment). */
export function useOrder(id: string, enabled: boolean, every: number | false) {
  return useQuery({ queryKey: buyKeys.order(id), queryFn: () => findOrder(id), enabled, refetchInterval: every, retry: 1 });
}

/** Whether the ledger has posted the order's credits (a `purchase` line for it in the credit history). */
export async function creditsArrived(orderId: string): Promise<boolean> {
  const res = await ok(api.GET('/v1/credits/transactions', { params: { query: { limit: 50 } } }));
  return res.items.some((t) => t.kind === 'purchase' && t.orderId === orderId);
}

export function useCreditsArrived(orderId: string, enabled: boolean, every: number | false) {
  return useQuery({ queryKey: buyKeys.purchase(orderId), queryFn: () => creditsArrived(orderId), enabled, refetchInterval: every, retry: 1 });
}

export { formatMoney, packFor } from './money';
