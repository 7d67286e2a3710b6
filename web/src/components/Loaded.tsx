import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { problemDetail } from '../api';

/** A failed load: the API's own (localized) words when it gave some, else `fallback`; and Try again. */
export function LoadError({ error, fallback, retry }: { error: unknown; fallback: string; retry: () => void }) {
  const { t } = useTranslation('common');
  return (
    <div className="alert load-error" role="alert">
      <p>{problemDetail(error) ?? fallback}</p>
      <p>
        <button type="button" className="button-quiet" onClick={retry}>
          {t('retry')}
        </button>
      </p>
    </div>
  );
}

/** What Loaded needs of a query (TanStack's useQuery and useInfiniteQuery both give it). */
export interface Loadable<T> {
  isPending: boolean;
  /** A refetch failed while the data of an earlier answer is still there (not a next page's failure: the list says that itself). */
  isRefetchError: boolean;
  /** A request is under way (the first, or Try again's). */
  isFetching: boolean;
  error: unknown;
  data: T | undefined;
  refetch: () => unknown;
}

/**
 * A list, table or figure that comes from one query, the same way on every page: "loading" said
 * (role=status) until the first answer (and again while Try again asks); a first load that failed
 * says why and offers Try again; then `children` with the data. A refetch that fails keeps what
 * was shown, and says so above it.
 */
export function Loaded<T>({ query, loading, fallback, children }: { query: Loadable<T>; loading: string; fallback: string; children: (data: T) => ReactNode }) {
  const retry = () => void query.refetch();
  if (query.data !== undefined) {
    return (
      <>
        {query.isRefetchError ? <LoadError error={query.error} fallback={fallback} retry={retry} /> : null}
        {children(query.data)}
      </>
    );
  }
  if (query.isPending || query.isFetching) {
    return (
      <p className="loading" role="status">
        {loading}
      </p>
    );
  }
  return <LoadError error={query.error} fallback={fallback} retry={retry} />;
}
