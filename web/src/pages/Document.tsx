import { Fragment, type ReactElement } from 'react';
import { Link } from 'react-router';
import { Trans, useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { analyticsEnabled } from '../analytics';
import { longDay } from '../i18n/dates';

export const CONTACT_EMAIL = 'contact@imagemakerlab.com';

/** A block of a document: a paragraph or a list, optionally only when analytics is (not) configured. */
interface Block {
  p?: string;
  ul?: string[];
  when?: 'analytics-on' | 'analytics-off';
}

interface Section {
  id: string;
  title: string;
  date?: string;
  blocks: Block[];
}

/** Tags the texts may use, e.g. `<email>contact@…</email>` or `<privacy>privacy policy</privacy>`. */
const TAGS: Record<string, ReactElement> = {
  email: <a href={`mailto:${CONTACT_EMAIL}`} />,
  strong: <strong />,
  privacy: <Link to="/privacy" />,
  terms: <Link to="/terms" />,
  content: <Link to="/content-policy" />,
  contact: <Link to="/contact" />,
  pricing: <Link to="/pricing" />,
  settings: <Link to="/settings" />,
  gallery: <Link to="/gallery" />,
};

/**
 * The long-text pages (privacy, terms, content policy, changelog, contact): one i18n namespace
 * each, loaded with the page, rendered as sections with an "on this page" list.
 */
export default function Document({ namespace }: { namespace: 'privacy' | 'terms' | 'content' | 'changelog' | 'contact' }) {
  const { t, i18n } = useTranslation(namespace);
  const sections = t('sections', { returnObjects: true }) as Section[];
  const analytics = analyticsEnabled();
  const shown = (b: Block) => !b.when || (b.when === 'analytics-on') === analytics;
  const text = (key: string) => <Trans ns={namespace} i18nKey={key} components={TAGS} />;
  const dateOf = (date: string) => longDay(i18n.resolvedLanguage, date, 'UTC');
  const updated = t('updated', { defaultValue: '' });
  return (
    <Page title={t('title')} lead={t('lead')} className={`document document-${namespace}`}>
      {updated ? <p className="muted updated">{updated}</p> : null}
      {sections.length > 2 ? (
        <nav className="toc" aria-labelledby={`${namespace}-toc`}>
          <h2 id={`${namespace}-toc`}>{t('toc')}</h2>
          <ol>
            {sections.map((s) => (
              <li key={s.id}>
                <a href={`#${s.id}`}>{s.date ? `${dateOf(s.date)} · ${s.title}` : s.title}</a>
              </li>
            ))}
          </ol>
        </nav>
      ) : null}
      <div className="document-body">
        {sections.map((s, i) => (
          <section key={s.id} id={s.id} aria-labelledby={`${s.id}-title`}>
            <h2 id={`${s.id}-title`}>
              {s.date ? (
                <>
                  <time dateTime={s.date}>{dateOf(s.date)}</time>
                  <span className="heading-sep" aria-hidden="true">
                    {' · '}
                  </span>
                </>
              ) : null}
              {s.title}
            </h2>
            {s.blocks.map((b, j) =>
              !shown(b) ? null : b.ul ? (
                <ul key={j}>
                  {b.ul.map((_, k) => (
                    <li key={k}>{text(`sections.${i}.blocks.${j}.ul.${k}`)}</li>
                  ))}
                </ul>
              ) : (
                <Fragment key={j}>
                  <p>{text(`sections.${i}.blocks.${j}.p`)}</p>
                </Fragment>
              ),
            )}
          </section>
        ))}
      </div>
    </Page>
  );
}
