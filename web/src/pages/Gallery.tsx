import { useEffect, useId, useRef, useState } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { LoadError } from '../components/Loaded';
import { useGallery, type GalleryImage } from '../api/buy';
import { useMe } from '../api/queries';
import { authorOf, Thumb } from './buy/shared';
import { day } from '../i18n/dates';
import { FormAlert } from '../components/Form';
import { failureOf } from '../api';
import { MODERATION_REASONS, useReportImage, type ModerationReason } from '../api/moderation';
import '../styles/buy.css';

/** One image large, in a modal dialog (focus stays inside; Escape or Close ends it, focus goes back). */
function Viewer({ image, onClose }: { image: GalleryImage; onClose: () => void }) {
  const { t, i18n } = useTranslation('gallery');
  const dialog = useRef<HTMLDialogElement>(null);
  const closeButton = useRef<HTMLButtonElement>(null);
  const author = authorOf(t, image);
  const date = day(i18n.resolvedLanguage, image.publishedAt);
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    closeButton.current?.focus();
  }, []);
  return (
    <dialog ref={dialog} className="viewer" aria-labelledby="viewer-title" onClose={onClose} onClick={(e) => e.target === dialog.current && dialog.current?.close()}>
      <div className="viewer-body">
        <img src={image.url} alt={t('alt', { ...author, date })} width={image.width} height={image.height} />
        <div className="viewer-meta">
          {/* Close is quiet and at the top, as in the library's dialog: the report's buttons are the actions here */}
          <div className="viewer-head">
            <h2 id="viewer-title">{t('viewer', author)}</h2>
            <button ref={closeButton} type="button" className="button-quiet" onClick={() => dialog.current?.close()}>
              {t('close')}
            </button>
          </div>
          <p className="muted">{t('published', { date })}</p>
          <p>
            <a href={image.url} target="_blank" rel="noopener">
              {t('fullSize')}
            </a>
          </p>
          <ReportImage imageId={image.id} />
        </div>
      </div>
    </dialog>
  );
}

/**
 * "Report this image": a reason from the fixed list and an optional note, for anyone (signed in or
 * not). The API says when this person already reported it, or reports too often, in their language.
 */
function ReportImage({ imageId }: { imageId: string }) {
  const { t } = useTranslation(['gallery', 'moderation']);
  const id = useId();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState<ModerationReason | ''>('');
  const [note, setNote] = useState('');
  const [missing, setMissing] = useState(false);
  const report = useReportImage();
  const select = useRef<HTMLSelectElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (open) select.current?.focus();
  }, [open]);
  if (report.isSuccess) {
    return (
      <p className="notice" role="status">
        {t('report.thanks')}
      </p>
    );
  }
  if (!open) {
    return (
      <p>
        <button ref={opener} type="button" className="button-quiet" aria-expanded="false" onClick={() => setOpen(true)}>
          {t('report.open')}
        </button>
      </p>
    );
  }
  return (
    <form
      className="form report-form"
      aria-labelledby={`${id}-title`}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!reason) {
          setMissing(true);
          select.current?.focus();
          return;
        }
        report.mutate({ id: imageId, reason, note });
      }}
    >
      <h3 id={`${id}-title`}>{t('report.title')}</h3>
      <p className="muted">{t('report.intro')}</p>
      <FormAlert title={t('report.error')} message={failureOf(report, t('report.error'))} />
      <div className="field">
        <label htmlFor={`${id}-reason`}>{t('report.reason')}</label>
        <select
          ref={select}
          id={`${id}-reason`}
          required
          value={reason}
          aria-invalid={missing && !reason ? true : undefined}
          aria-describedby={missing && !reason ? `${id}-reason-error` : undefined}
          onChange={(e) => setReason(e.target.value as ModerationReason)}
        >
          <option value="">{t('report.choose')}</option>
          {MODERATION_REASONS.map((r) => (
            <option key={r} value={r}>
              {t(`moderation:reasons.${r}`)}
            </option>
          ))}
        </select>
        {missing && !reason ? (
          <p id={`${id}-reason-error`} className="field-error">
            {t('report.reasonRequired')}
          </p>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={`${id}-note`}>{t('report.note')}</label>
        <textarea id={`${id}-note`} rows={3} maxLength={500} value={note} aria-describedby={`${id}-note-hint`} onChange={(e) => setNote(e.target.value)} />
        <p id={`${id}-note-hint`} className="field-hint">
          {t('report.noteHint')}
        </p>
      </div>
      <div className="actions-row">
        <button type="submit" className="button-primary" disabled={report.isPending}>
          {report.isPending ? t('report.sending') : t('report.send')}
        </button>
        <button type="button" className="button-quiet" onClick={() => setOpen(false)}>
          {t('report.cancel')}
        </button>
      </div>
    </form>
  );
}

export default function Gallery() {
  const { t, i18n } = useTranslation('gallery');
  const me = useMe();
  const gallery = useGallery();
  const sentinel = useRef<HTMLDivElement>(null);
  const [open, setOpen] = useState<GalleryImage | null>(null);
  const opener = useRef<HTMLButtonElement | null>(null);
  const { hasNextPage, isFetchingNextPage, fetchNextPage, isFetchNextPageError } = gallery;

  // Infinite scroll: the next page when the end of the grid comes near (the button does the same by keyboard).
  // Not after a next page failed: the end of the grid is still in view, and a new observer would ask
  // again at once, for ever; the failure is said with Try again, and scrolling resumes once it loads.
  useEffect(() => {
    const el = sentinel.current;
    // without IntersectionObserver (old browsers) the Load more button does it
    if (!el || !hasNextPage || isFetchNextPageError || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) void fetchNextPage();
      },
      { rootMargin: '600px 0px' },
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasNextPage, isFetchingNextPage, isFetchNextPageError, fetchNextPage]);

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
        <LoadError error={gallery.error} fallback={t('error')} retry={() => void gallery.refetch()} />
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
              const author = authorOf(t, image);
              const date = day(lang, image.publishedAt);
              return (
                <li key={image.id}>
                  <figure>
                    <button
                      type="button"
                      className="gallery-open"
                      aria-label={t('open', { ...author, date })}
                      onClick={(e) => {
                        opener.current = e.currentTarget;
                        setOpen(image);
                      }}
                    >
                      <Thumb image={image} alt={t('alt', { ...author, date })} />
                    </button>
                    <figcaption>
                      <span className="gallery-author">{t('by', author)}</span>
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
            {gallery.isFetchNextPageError ? <LoadError error={gallery.error} fallback={t('error')} retry={() => void fetchNextPage()} /> : null}
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
