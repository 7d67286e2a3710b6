import { Suspense, useEffect, useRef } from 'react';
import { Outlet, ScrollRestoration, useLocation, useMatches } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Header } from '../components/Header';
import { Footer } from '../components/Footer';
import { trackPage } from '../analytics';
import type { RouteHandle } from './router';

/** Counts a page view per path change, under the route's template, once the page has its title. */
function usePageViews(): void {
  const { pathname } = useLocation();
  const matches = useMatches();
  const template = (matches.at(-1)?.handle as RouteHandle | undefined)?.template ?? '/';
  const last = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (last.current === pathname) return;
    last.current = pathname;
    // After the page rendered its <title>.
    const timer = setTimeout(() => trackPage(template, document.title), 0);
    return () => clearTimeout(timer);
  }, [pathname, template]);
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
  usePageViews();
  return (
    <>
      <a className="skip-link" href="#main">
        {t('skipLink')}
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
      <Footer />
      <ScrollRestoration />
    </>
  );
}
