import { lazy, Suspense } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useMe } from '../api/queries';
import { usePageHeading } from '../components/Page';

/** The latest published images: a chunk of its own (with the gallery's texts), so Home's stays small. */
const RecentGallery = lazy(() => import('./RecentGallery'));

interface Step {
  title: string;
  text: string;
}

/** Decorative: a contact sheet of soft tiles standing in for images (no image data in this version). */
function Sheet() {
  return (
    <div className="sheet" aria-hidden="true">
      {Array.from({ length: 6 }, (_, i) => (
        <span key={i} className={`tile tile-${i + 1}`} />
      ))}
    </div>
  );
}

export default function Home() {
  const { t } = useTranslation();
  const me = useMe();
  const heading = usePageHeading();
  const steps = t('home.steps', { returnObjects: true }) as Step[];
  return (
    <div className="page home">
      <title>{`${t('brand')} · ${t('tagline')}`}</title>
      <section className="hero" aria-labelledby="home-title">
        <div className="hero-text">
          <h1 id="home-title" ref={heading} tabIndex={-1}>
            {t('home.title')}
          </h1>
          <p className="lead">{t('home.lead')}</p>
          <p className="actions">
            <Link className="button" to={me.data ? '/create' : '/sign-up'}>
              {t('home.cta')}
            </Link>
            <Link className="button-quiet" to="/pricing">
              {t('home.secondary')}
            </Link>
          </p>
        </div>
        <Sheet />
      </section>

      <section className="how" aria-labelledby="how-title">
        <h2 id="how-title">{t('home.howTitle')}</h2>
        <ol className="steps">
          {steps.map((step, i) => (
            <li key={step.title}>
              <span className="step-number" aria-hidden="true">
                {i + 1}
              </span>
              <h3>{step.title}</h3>
              <p>{step.text}</p>
            </li>
          ))}
        </ol>
        <div className="note">
          <h3>{t('home.creditsTitle')}</h3>
          <p>{t('home.creditsText')}</p>
        </div>
      </section>

      <section className="recent" aria-labelledby="recent-title">
        <h2 id="recent-title">{t('home.recentTitle')}</h2>
        <Suspense
          fallback={
            <div className="recent-frame">
              <p>{t('loading')}</p>
            </div>
          }
        >
          <RecentGallery />
        </Suspense>
      </section>
    </div>
  );
}
