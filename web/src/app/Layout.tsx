import { Suspense, useEffect, useRef } from 'react';
import { Outlet, ScrollRestoration, useLocation, useMatches } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Header } from '../components/Header';
import { Footer } from '../components/Footer';
import { trackPage } from '../analytics';
import type { RouteHandle } from './router';

/**
 * Counts a page view per path change, under the route's template. It sits inside the page's
 * Suspense boundary, so its effect runs once the page (a lazy chunk, its texts) has rendered,
 * with the page's <title> already in place.
 */
function PageViews() {
  const { pathname } = useLocation();
  const matches = useMatches();
  const template = (matches.at(-1)?.handle as RouteHandle | undefined)?.template ?? '/';
  const last = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (last.current === pathname) return;
    last.current = pathname;
    trackPage(template, document.title);
  }, [pathname, template]);
  return null;
}

function Loading() {
  const { t } = useTranslation();
  return (
    <p className="loading" role="status">
      {t('loading')}
    </p>
  );
}

export function Layout() {
  const { t } = useTranslation();
  return (
    <>
      <a className="skip-link" href="#main">
        {t('skipLink')}
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Outlet />
          <PageViews />
        </Suspense>
      </main>
      <Footer />
      <ScrollRestoration />
    </>
  );
}
