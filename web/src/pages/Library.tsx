import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { LoadError } from '../components/Loaded';
import { AccountGate } from '../components/create/AccountGate';
import { ImageDialog } from '../components/create/ImageDialog';
import { costText, endOf } from '../components/create/outcome';
import { dateTime, sentenceGap } from '../i18n/dates';
import { isFinal, useGenerations, type GeneratedImage, type Generation } from '../api/create';
import '../styles/create.css';

type Filter = 'all' | 'succeeded' | 'open' | 'ended';
const FILTERS: Filter[] = ['all', 'succeeded', 'open', 'ended'];
const matches = (g: Generation, f: Filter) =>
  f === 'all' ? true : f === 'succeeded' ? g.status === 'succeeded' : f === 'open' ? !isFinal(g) : g.status !== 'succeeded' && isFinal(g);

export default function Library() {
  const { t } = useTranslation('library');
  return <AccountGate title={t('title')}>{() => <LibraryPage />}</AccountGate>;
}

function LibraryPage() {
  const { t, i18n } = useTranslation(['library', 'create']);
  const { t: tc } = useTranslation('create');
  const list = useGenerations();
  const [filter, setFilter] = useState<Filter>('all');
  const [open, setOpen] = useState<{ image: GeneratedImage; generation: Generation } | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const opener = useRef<HTMLElement | null>(null);
  const listRef = useRef<HTMLUListElement>(null);

  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const shown = items.filter((g) => matches(g, filter));

  // After "Show more", focus goes to the first new card once it is on the page (not at a fixed
  // moment after the fetch: on a busy device the render can come later than the next frame).
  const [focusAt, setFocusAt] = useState<number | null>(null);
  useEffect(() => {
    if (focusAt === null) return;
    const link = listRef.current?.querySelectorAll<HTMLAnchorElement>('.gen-link')[focusAt];
    if (!link && list.isFetchingNextPage) return;
    link?.focus();
    setFocusAt(null);
  }, [focusAt, list.isFetchingNextPage, shown.length]);
  const loadMore = async () => {
    const before = shown.length;
    await list.fetchNextPage();
    setFocusAt(before);
  };

  let body;
  if (list.isPending) {
    body = (
      <p className="loading" role="status">
        {t('loading')}
      </p>
    );
  } else if (!list.data) {
    body = <LoadError error={list.error} fallback={t('failed')} retry={() => void list.refetch()} />;
  } else if (items.length === 0) {
    body = (
      <div className="notice empty">
        <p>{t('empty')}</p>
        <p>
          <Link className="button" to="/create">
            {t('emptyLink')}
          </Link>
        </p>
      </div>
    );
  } else {
    body = (
      <>
        <div className="library-tools">
          <div className="field">
            <label htmlFor="filter">{t('filter')}</label>
            <select id="filter" value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
              {FILTERS.map((f) => (
                <option key={f} value={f}>
                  {t(`filters.${f}`)}
                </option>
              ))}
            </select>
          </div>
          <Link className="button" to="/create">
            {t('newGeneration')}
          </Link>
        </div>
        {shown.length === 0 ? <p className="muted">{t('noneMatch')}</p> : null}
        <ul ref={listRef} className="gen-list">
          {shown.map((g) => {
            const end = endOf(tc, g);
            return (
              <li key={g.id} id={`gen-${g.id}`} className={`gen-card status-${g.status}`}>
                <div className="gen-head">
                  <h2 className="gen-title">
                    <Link className="gen-link prompt-text" to={`/generations/${g.id}`}>
                      {g.prompt}
                    </Link>
                  </h2>
                  <p className="gen-meta">
                    <span className={`status-pill pill-${g.status}`}>{tc(`statusShort.${g.status}`)}</span>
                    <span>{tc(`common:tiers.${g.model}.label`, { defaultValue: g.model })}</span>
                    <span>
                      {g.width}×{g.height}
                    </span>
                    <span>{costText(tc, g)}</span>
                    <time dateTime={g.createdAt}>{dateTime(i18n.language, g.createdAt)}</time>
                  </p>
                </div>
                {end ? (
                  <p className={g.status === 'canceled' ? 'gen-end muted' : 'gen-end gen-failed'}>
                    {end.reason}
                    {sentenceGap(i18n.language)}
                    {end.credits}
                  </p>
                ) : null}
                {!isFinal(g) ? (
                  <p className="gen-end">
                    {tc(`generation.status.${g.status}`)} <Link to={`/generations/${g.id}`}>{t('follow')}</Link>
                  </p>
                ) : null}
                {g.images.length ? (
                  <ul className="thumbs thumbs-small">
                    {g.images.map((image, i) => (
                      <li key={image.id}>
                        <button
                          type="button"
                          className="thumb"
                          onClick={(e) => {
                            opener.current = e.currentTarget;
                            setAnnouncement('');
                            setOpen({ image, generation: g });
                          }}
                        >
                          <img src={image.thumbUrl} alt={t('thumb', { n: i + 1, prompt: g.prompt })} width={image.width} height={image.height} loading="lazy" />
                          {image.published ? <span className="thumb-badge">{tc('image.publishedBadge')}</span> : null}
                        </button>
                      </li>
                    ))}
                  </ul>
                ) : null}
              </li>
            );
          })}
        </ul>
        {list.isFetchNextPageError ? <LoadError error={list.error} fallback={t('failed')} retry={() => void loadMore()} /> : null}
        {list.hasNextPage ? (
          <p>
            <button type="button" className="button-quiet" disabled={list.isFetchingNextPage} onClick={() => void loadMore()}>
              {list.isFetchingNextPage ? t('loadingMore') : t('more')}
            </button>
          </p>
        ) : null}
      </>
    );
  }

  return (
    <Page title={t('title')} lead={t('lead')} className="library">
      <p className="visually-hidden" role="status">
        {announcement}
      </p>
      {body}
      {open ? (
        <ImageDialog
          image={open.image}
          prompt={open.generation.prompt}
          onClose={(deleted) => {
            const id = open.generation.id;
            setOpen(null);
            if (deleted) {
              setAnnouncement(tc('image.deleted'));
              document.querySelector<HTMLElement>(`#gen-${id} .gen-link`)?.focus();
            } else opener.current?.focus();
          }}
        />
      ) : null}
    </Page>
  );
}
