/** Loaded only when a GA4 measurement id is configured (see ./index.ts). */
type Gtag = (...args: unknown[]) => void;

declare global {
  interface Window {
    dataLayer?: unknown[];
    gtag?: Gtag;
  }
}

let started = false;

function start(id: string): Gtag {
  window.dataLayer = window.dataLayer ?? [];
  // gtag.js reads the `arguments` objects pushed here, not arrays.
  const gtag: Gtag = function gtag() {
    // eslint-disable-next-line prefer-rest-params
    window.dataLayer!.push(arguments);
  };
  window.gtag = gtag;
  if (!started) {
    started = true;
    const script = document.createElement('script');
    script.async = true;
    script.src = `https://www.googletagmanager.com/gtag/js?id=${encodeURIComponent(id)}`;
    document.head.append(script);
    gtag('js', new Date());
    // Page views are sent by hand with the route template; GA's own would carry the real URL.
    gtag('config', id, { send_page_view: false, page_location: `${location.origin}/`, page_referrer: '' });
  }
  return gtag;
}

export function pageView(id: string, template: string, title: string): void {
  const gtag = window.gtag ?? start(id);
  const pageLocation = `${location.origin}${template}`;
  // Every later event (GA's enhanced measurement included) carries this location, not the address bar's.
  gtag('set', { page_location: pageLocation, page_referrer: '', page_title: title });
  gtag('event', 'page_view', { page_location: pageLocation, page_title: title });
}
