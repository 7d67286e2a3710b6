import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';

export type UpcomingPage =
  | 'gallery'
  | 'pricing'
  | 'create'
  | 'generation'
  | 'library'
  | 'settings'
  | 'orders'
  | 'billingSuccess'
  | 'billingCancel'
  | 'finance'
  | 'ops';

/**
 * A page that needs the API and comes with the next version: it says what it will do and that it
 * does not work yet. It shows no data, real or made up.
 */
export default function Upcoming({ page, before }: { page: UpcomingPage; before?: ReactNode }) {
  const { t } = useTranslation();
  return (
    <Page title={t(`upcoming.${page}.title`)} lead={t(`upcoming.${page}.what`)} className="narrow upcoming">
      {before}
      <div className="notice">
        <p className="badge">{t('upcoming.badge')}</p>
        <p>{t('upcoming.text')}</p>
      </div>
      <p className="muted">{t('upcoming.meanwhile')}</p>
      <ul className="inline-links">
        <li>
          <Link to="/">{t('upcoming.home')}</Link>
        </li>
        <li>
          <Link to="/contact">{t('upcoming.contact')}</Link>
        </li>
      </ul>
    </Page>
  );
}
