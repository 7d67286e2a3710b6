/**
 * Google Analytics 4, only when this deployment configured a measurement id: the gateway then
 * puts `<meta name="imlab-ga-id" content="G-…">` into index.html (and allows Google's hosts in its
 * Content-Security-Policy). Without it nothing is loaded, no cookie is set and nothing is sent;
 * the GA code itself is a separate chunk fetched only when configured.
 */
const META = 'imlab-ga-id';

export function analyticsId(): string | undefined {
  const id = document.querySelector<HTMLMetaElement>(`meta[name="${META}"]`)?.content.trim();
  return id && /^G-[A-Z0-9]{4,20}$/.test(id) ? id : undefined;
}

export function analyticsEnabled(): boolean {
  return analyticsId() !== undefined;
}

/**
 * Counts a page view under its route template (`/generations/:id`, never an id, a token or a
 * query string).
 */
export function trackPage(template: string, title: string): void {
  const id = analyticsId();
  if (!id) return;
  void import('./ga').then((ga) => ga.pageView(id, template, title));
}
