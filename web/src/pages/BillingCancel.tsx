import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { useMe } from '../api/queries';
import '../styles/buy.css';

/** Stripe's page when the person canceled: nothing was charged; back to the packs. */
export default function BillingCancel() {
  const { t } = useTranslation('billing');
  const me = useMe();
  return (
    <Page title={t('cancel.title')} lead={t('cancel.lead')} className="narrow billing-page">
      <div className="notice" role="status">
        <p>{t('cancel.text')}</p>
      </div>
      <ul className="inline-links">
        <li>
          <Link className="button" to="/pricing">
            {t('cancel.back')}
          </Link>
        </li>
        {me.data ? (
          <li>
            <Link to="/billing/orders">{t('cancel.orders')}</Link>
          </li>
        ) : null}
      </ul>
    </Page>
  );
}
