/**
 * Create, a generation's page and the library: what they ask the API (through the generated
 * client) and the TanStack Query hooks around it.
 */
import { useEffect, useState } from 'react';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { FINAL_STATUSES, generationEvents, ok, uploadImage, type ImageType, type Schemas } from '@imlab/client';
import { api } from './index';
import { queryKeys } from './queries';

export type GenerationOptions = Schemas['GenerationOptions'];
export type Tier = Schemas['GenerationTierOptions'];
export type GenerationRequest = Schemas['GenerationRequest'];
export type Quote = Schemas['GenerationQuote'];
export type Generation = Schemas['Generation'];
export type GeneratedImage = Schemas['Image'];
export type AspectRatio = NonNullable<GenerationRequest['aspectRatio']>;
export type TierId = NonNullable<GenerationRequest['model']>;

/** What the client's own helpers (event stream, download) take: this page's origin. */
const clientOptions = { baseUrl: location.origin };

export const createKeys = {
  options: ['generations', 'options'] as const,
  quote: (body: GenerationRequest) => ['generations', 'quote', body] as const,
  generation: (id: string) => ['generations', 'one', id] as const,
  list: ['generations', 'list'] as const,
};

export const isFinal = (g: Pick<Generation, 'status'>) => FINAL_STATUSES.includes(g.status);

/** What each tier offers with the image service configured now. */
export function useGenerationOptions() {
  return useQuery({ queryKey: createKeys.options, queryFn: () => ok(api.GET('/v1/generations/options')), staleTime: 5 * 60_000 });
}

/** The value, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** The price of a request (nothing held); a refused prompt is an ApiError (422) with the rule. */
export function useQuote(body: GenerationRequest | undefined) {
  return useQuery({
    queryKey: createKeys.quote(body ?? { prompt: '' }),
    queryFn: () => ok(api.POST('/v1/generations/quote', { body: body! })),
    enabled: body !== undefined,
    retry: false,
    staleTime: 60_000,
    placeholderData: (previous) => previous,
  });
}

/** Uploads one reference image; answers its upload id. */
export async function uploadReference(file: Blob, type: ImageType): Promise<string> {
  return (await uploadImage(api, file, type)).id;
}

/** Creates a generation (credits held, render queued); the key makes a retry of the same submit harmless. */
export function useCreateGeneration() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ body, key }: { body: GenerationRequest; key: string }) => ok(api.POST('/v1/generations', { body, params: { header: { 'idempotency-key': key } } })),
    onSettled: () => {
      void client.invalidateQueries({ queryKey: queryKeys.balance });
      void client.invalidateQueries({ queryKey: createKeys.list });
    },
  });
}

/**
 * One generation, kept current by its event stream (`generationEvents`, which reconnects with
 * Last-Event-ID) until it reaches a final status; `percent` is the render progress when reported.
 */
export function useGeneration(id: string) {
  const client = useQueryClient();
  const query = useQuery({ queryKey: createKeys.generation(id), queryFn: () => ok(api.GET('/v1/generations/{id}', { params: { path: { id } } })), retry: 1 });
  const [percent, setPercent] = useState<number | undefined>(undefined);
  const [streamError, setStreamError] = useState<unknown>(undefined);
  const open = query.data !== undefined && !isFinal(query.data);
  useEffect(() => {
    if (!open) return;
    const abort = new AbortController();
    void (async () => {
      try {
        for await (const { generation } of generationEvents(id, { ...clientOptions, signal: abort.signal, onProgress: setPercent })) {
          client.setQueryData(createKeys.generation(id), generation);
          if (isFinal(generation)) {
            void client.invalidateQueries({ queryKey: queryKeys.balance });
            void client.invalidateQueries({ queryKey: createKeys.list });
          }
        }
      } catch (err) {
        if (!abort.signal.aborted) setStreamError(err);
      }
    })();
    return () => abort.abort();
  }, [id, open, client]);
  return { ...query, percent, streamError };
}

/** Cancels a generation that has not finished; its held credits go back. */
export function useCancelGeneration(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => ok(api.POST('/v1/generations/{id}/cancel', { params: { path: { id } } })),
    onSuccess: (g) => client.setQueryData(createKeys.generation(id), g),
    onSettled: () => {
      void client.invalidateQueries({ queryKey: queryKeys.balance });
      void client.invalidateQueries({ queryKey: createKeys.list });
    },
  });
}

const PAGE_SIZE = 12;

/** The person's generations, newest first, a page at a time. */
export function useGenerations() {
  return useInfiniteQuery({
    queryKey: createKeys.list,
    queryFn: ({ pageParam }) => ok(api.GET('/v1/generations', { params: { query: { limit: PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    initialPageParam: '',
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    // something still rendering: look again shortly
    refetchInterval: (q) => (q.state.data?.pages.some((p) => p.items.some((g) => !isFinal(g))) ? 3000 : false),
  });
}

export async function setPublished(imageId: string, published: boolean) {
  const params = { params: { path: { id: imageId } } };
  return ok(published ? api.POST('/v1/images/{id}/publish', params) : api.DELETE('/v1/images/{id}/publish', params));
}

export async function deleteImage(imageId: string): Promise<void> {
  await ok(api.DELETE('/v1/images/{id}', { params: { path: { id: imageId } } }));
}

/**
 * After a change to an image (published, taken out, deleted): the list, the generation pages and
 * the public gallery (its page and Home's strip) read it again, so the person sees the change there.
 */
export function useImageChanged() {
  const client = useQueryClient();
  return async () => {
    await client.invalidateQueries({ queryKey: createKeys.list });
    await client.invalidateQueries({ queryKey: ['generations', 'one'] });
    await client.invalidateQueries({ queryKey: ['gallery'] });
  };
}
