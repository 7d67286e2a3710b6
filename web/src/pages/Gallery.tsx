import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { useGallery, type GalleryImage } from '../api/buy';
import { useMe } from '../api/queries';
import { LoadError, Thumb, formatDate } from './buy/shared';
import '../styles/buy.css';

/** One image large, in a modal dialog (focus stays inside; Escape or Close ends it, focus goes back). */
function Viewer({ image, onClose }: { image: GalleryImage; onClose: () => void }) {
  const { t, i18n } = useTranslation('gallery');
  const dialog = useRef<HTMLDialogElement>(null);
  const closeButton = useRef<HTMLButtonElement>(null);
  const name = image.author.displayName;
  const date = formatDate(image.publishedAt, i18n.resolvedLanguage);
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    closeButton.current?.focus();
  }, []);
  return (
    <dialog ref={dialog} className="viewer" aria-labelledby="viewer-title" onClose={onClose} onClick={(e) => e.target === dialog.current && dialog.current?.close()}>
      <div className="viewer-body">
        <img src={image.url} alt={t('alt', { name, date })} width={image.width} height={image.height} />
        <div className="viewer-meta">
          <h2 id="viewer-title">{t('viewer', { name })}</h2>
          <p className="muted">{t('published', { date })}</p>
          <p>
            <a href={image.url} target="_blank" rel="noopener">
              {t('fullSize')}
            </a>
          </p>
          <form method="dialog">
            <button ref={closeButton} type="submit" className="button">
              {t('close')}
            </button>
          </form>
        </div>
      </div>
    </dialog>
  );
}

export default function Gallery() {
  const { t, i18n } = useTranslation('gallery');
  const me = useMe();
  const gallery = useGallery();
  const sentinel = useRef<HTMLDivElement>(null);
  const [open, setOpen] = useState<GalleryImage | null>(null);
  const opener = useRef<HTMLButtonElement | null>(null);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = gallery;

  // Infinite scroll: the next page when the end of the grid comes near (the button does the same by keyboard).
  useEffect(() => {
    const el = sentinel.current;
    // without IntersectionObserver (old browsers) the Load more button does it
    if (!el || !hasNextPage || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) void fetchNextPage();
      },
      { rootMargin: '600px 0px' },
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const images = gallery.data?.pages.flatMap((p) => p.items) ?? [];
  const lang = i18n.resolvedLanguage;

  const close = () => {
    setOpen(null);
    opener.current?.focus();
  };

  return (
    <Page title={t('title')} lead={t('lead')} className="gallery-page">
      {gallery.isPending ? (
        <p className="loading" role="status">
          {t('loading')}
        </p>
      ) : gallery.isError && images.length === 0 ? (
        <LoadError error={gallery.error} fallback={t('error')} retry={() => void gallery.refetch()} retryLabel={t('retry')} />
      ) : images.length === 0 ? (
        <div className="notice empty">
          <p>{t('empty')}</p>
          <p className="muted">{t('emptyHelp')}</p>
          <p>
            <Link className="button" to={me.data ? '/create' : '/sign-up'}>
              {t('startCreating')}
            </Link>
          </p>
        </div>
      ) : (
        <>
          <ul className="gallery-grid">
            {images.map((image) => {
              const name = image.author.displayName;
              const date = formatDate(image.publishedAt, lang);
              return (
                <li key={image.id}>
                  <figure>
                    <button
                      type="button"
                      className="gallery-open"
                      aria-label={t('open', { name, date })}
                      onClick={(e) => {
                        opener.current = e.currentTarget;
                        setOpen(image);
                      }}
                    >
                      <Thumb image={image} alt={t('alt', { name, date })} />
                    </button>
                    <figcaption>
                      <span className="gallery-author">{t('by', { name })}</span>
                      <time dateTime={image.publishedAt}>{date}</time>
                    </figcaption>
                  </figure>
                </li>
              );
            })}
          </ul>
          <div ref={sentinel} className="gallery-sentinel" aria-hidden="true" />
          <div className="gallery-more">
            <p className="muted" role="status">
              {isFetchingNextPage ? t('loadingMore') : hasNextPage ? t('shown', { count: images.length }) : t('end')}
            </p>
            {gallery.isFetchNextPageError ? <LoadError error={gallery.error} fallback={t('error')} retry={() => void fetchNextPage()} retryLabel={t('retry')} /> : null}
            {hasNextPage ? (
              <button type="button" className="button-quiet" disabled={isFetchingNextPage} onClick={() => void fetchNextPage()}>
                {t('loadMore')}
              </button>
            ) : null}
          </div>
        </>
      )}
      {open ? <Viewer image={open} onClose={close} /> : null}
    </Page>
  );
}
