import { useEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { AccountGate } from '../components/create/AccountGate';
import { ImageDialog } from '../components/create/ImageDialog';
import { costText, endOf } from '../components/create/outcome';
import { dateTime, sentenceGap } from '../i18n/dates';
import { failureOf, hasStatus, problemDetail } from '../api';
import { isFinal, useCancelGeneration, useGeneration, type GeneratedImage, type Generation as GenerationView } from '../api/create';
import '../styles/create.css';

export default function Generation() {
  const { t } = useTranslation('create');
  const { id = '' } = useParams();
  return <AccountGate title={t('generation.title')}>{() => <GenerationPage key={id} id={id} />}</AccountGate>;
}

function GenerationPage({ id }: { id: string }) {
  const { t } = useTranslation('create');
  const generation = useGeneration(id);
  if (generation.data) return <GenerationShown g={generation.data} percent={generation.percent} streamError={generation.streamError} />;
  const notFound = hasStatus(generation.error, 404, 400);
  return (
    <Page title={t('generation.title')} className="narrow">
      {generation.isError ? (
        <>
          <div className="alert" role="alert">
            <p>{notFound ? t('generation.notFound') : (problemDetail(generation.error) ?? t('errors.generic'))}</p>
          </div>
          <ul className="inline-links">
            <li>
              <Link to="/library">{t('generation.library')}</Link>
            </li>
            <li>
              <Link to="/create">{t('generation.again')}</Link>
            </li>
          </ul>
        </>
      ) : (
        <p className="loading" role="status">
          {t('generation.loading')}
        </p>
      )}
    </Page>
  );
}

function GenerationShown({ g, percent, streamError }: { g: GenerationView; percent: number | undefined; streamError: unknown }) {
  const { t, i18n } = useTranslation('create');
  const cancel = useCancelGeneration(g.id);
  const statusRef = useRef<HTMLDivElement>(null);
  const [open, setOpen] = useState<GeneratedImage | null>(null);
  const opener = useRef<HTMLElement | null>(null);
  const final = isFinal(g);
  const end = endOf(t, g);
  const shownPercent = g.status === 'succeeded' ? 100 : g.status === 'running' ? percent : undefined;

  // After Cancel, focus goes to the outcome as soon as it shows: the button that had focus is gone,
  // and the event stream may report the cancel before the request itself answers.
  useEffect(() => {
    if (!cancel.isIdle && (final || cancel.isSuccess)) statusRef.current?.focus();
  }, [cancel.isIdle, cancel.isSuccess, final]);

  const statusText =
    g.status === 'running' && percent !== undefined ? t('generation.status.runningPercent', { percent }) : t(`generation.status.${g.status}`);
  const cancelFailure = failureOf(cancel, t('errors.generic'));

  return (
    <Page title={t('generation.title')} lead={<span className="prompt-text">{g.prompt}</span>} className="generation">
      <div ref={statusRef} className={`generation-status status-${g.status}`} tabIndex={-1}>
        <p className="status-line" role="status" aria-live="polite" aria-atomic="true">
          <span className={`status-dot dot-${g.status}`} aria-hidden="true" /> {statusText}
          {end ? <>{sentenceGap(i18n.language)}{end.credits}</> : null}
        </p>
        {!final ? (
          <div
            className="progress"
            role="progressbar"
            aria-label={t('generation.progress')}
            aria-valuemin={0}
            aria-valuemax={100}
            {...(shownPercent !== undefined ? { 'aria-valuenow': shownPercent, 'aria-valuetext': `${shownPercent}%` } : {})}
          >
            <span className={shownPercent === undefined ? 'progress-bar indeterminate' : 'progress-bar'} style={shownPercent === undefined ? undefined : { width: `${Math.max(4, shownPercent)}%` }} />
          </div>
        ) : null}
        {end && g.status !== 'canceled' ? (
          <div className="alert">
            <p>
              <strong>{end.reason}</strong>
              {sentenceGap(i18n.language)}
              {end.credits}
            </p>
          </div>
        ) : null}
        {!final ? (
          <p>
            <button type="button" className="button-quiet" disabled={cancel.isPending} onClick={() => cancel.mutate()}>
              {cancel.isPending ? t('generation.canceling') : t('generation.cancel')}
            </button>
          </p>
        ) : null}
        {cancelFailure && !final ? (
          <p className="form-error" role="alert">
            {cancelFailure}
          </p>
        ) : null}
        {streamError && !final ? <p className="muted">{t('generation.streamLost')}</p> : null}
      </div>

      {g.images.length ? (
        <section aria-labelledby="results-title">
          <h2 id="results-title">{t('generation.results')}</h2>
          <ul className="thumbs">
            {g.images.map((image, i) => (
              <li key={image.id}>
                <button
                  type="button"
                  className="thumb"
                  onClick={(e) => {
                    opener.current = e.currentTarget;
                    setOpen(image);
                  }}
                >
                  <img src={image.thumbUrl} alt={t('generation.open', { n: i + 1 })} width={image.width} height={image.height} loading="lazy" />
                  {image.published ? <span className="thumb-badge">{t('image.publishedBadge')}</span> : null}
                </button>
              </li>
            ))}
          </ul>
        </section>
      ) : g.status === 'succeeded' ? (
        <p className="muted">{t('generation.noImages')}</p>
      ) : null}

      <section aria-labelledby="details-title" className="details">
        <h2 id="details-title">{t('generation.details')}</h2>
        <dl className="facts">
          <dt>{t('generation.tier')}</dt>
          <dd>{t(`common:tiers.${g.model}.label`, { defaultValue: g.model })}</dd>
          <dt>{t('generation.size')}</dt>
          <dd>
            {g.width}×{g.height}
          </dd>
          <dt>{t('generation.count')}</dt>
          <dd>{g.count}</dd>
          <dt>{t('generation.seed')}</dt>
          <dd>{g.seed}</dd>
          {g.negativePrompt ? (
            <>
              <dt>{t('generation.negative')}</dt>
              <dd>{g.negativePrompt}</dd>
            </>
          ) : null}
          {g.referenceUploadIds.length ? (
            <>
              <dt>{t('generation.references')}</dt>
              <dd>{g.referenceUploadIds.length}</dd>
            </>
          ) : null}
          <dt>{t('generation.cost')}</dt>
          <dd>{costText(t, g)}</dd>
          <dt>{t('generation.created')}</dt>
          <dd>
            <time dateTime={g.createdAt}>{dateTime(i18n.language, g.createdAt)}</time>
          </dd>
          {g.finishedAt ? (
            <>
              <dt>{t('generation.finished')}</dt>
              <dd>
                <time dateTime={g.finishedAt}>{dateTime(i18n.language, g.finishedAt)}</time>
              </dd>
            </>
          ) : null}
        </dl>
      </section>
      <ul className="inline-links">
        <li>
          <Link to="/create">{t('generation.again')}</Link>
        </li>
        <li>
          <Link to="/library">{t('generation.library')}</Link>
        </li>
      </ul>
      {open ? (
        <ImageDialog
          image={open}
          prompt={g.prompt}
          onClose={(deleted) => {
            setOpen(null);
            if (deleted) statusRef.current?.focus();
            else opener.current?.focus();
          }}
        />
      ) : null}
    </Page>
  );
}
