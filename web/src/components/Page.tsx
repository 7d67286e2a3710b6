import { useEffect, useRef, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

/** Whether a page was shown before: the first page keeps the browser's focus, later ones take it. */
let shownBefore = false;

/** The ref for a page's <h1>: focused when the page was reached by a client-side navigation. */
export function usePageHeading() {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (shownBefore) heading.current?.focus({ preventScroll: true });
    shownBefore = true;
  }, []);
  return heading;
}

/**
 * A page: its <title> (React puts it in <head>), its one <h1>, and focus on that heading after a
 * client-side navigation, so a screen reader announces the new page and Tab starts from there.
 */
export function Page({ title, lead, children, className }: { title: string; lead?: ReactNode; children?: ReactNode; className?: string }) {
  const { t } = useTranslation();
  const heading = usePageHeading();
  return (
    <div className={className ? `page ${className}` : 'page'}>
      <title>{`${title} · ${t('titleSuffix')}`}</title>
      <header className="page-header">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {lead ? <p className="lead">{lead}</p> : null}
      </header>
      {children}
    </div>
  );
}
