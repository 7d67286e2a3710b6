import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { LoadError } from '../components/Loaded';
import { formatMoney, useOrders } from '../api/buy';
import { useMe } from '../api/queries';
import { usePackName } from './buy/OrderSummary';
import { SignInPage } from './buy/shared';
import { day } from '../i18n/dates';
import { number } from './account/common';
import '../styles/buy.css';

/**
 * The person's orders: date, pack, credits, amount, status. On its own page (notification emails
 * link there) and in the settings' Orders tab; `Heading` is each order's heading level there.
 */
export function OrderList({ Heading = 'h2' }: { Heading?: 'h2' | 'h3' }) {
  const { t, i18n } = useTranslation('billing');
  const orders = useOrders(true);
  const packName = usePackName();
  const lang = i18n.resolvedLanguage ?? 'en';
  if (orders.isPending) {
    return (
      <p className="loading" role="status">
        {t('orders.loading')}
      </p>
    );
  }
  if (orders.isError && !orders.data) return <LoadError error={orders.error} fallback={t('orders.error')} retry={() => void orders.refetch()} />;
  const items = orders.data.pages.flatMap((p) => p.items);
  if (items.length === 0) {
    return (
      <div className="notice empty">
        <p>{t('orders.empty')}</p>
        <p>
          <Link className="button" to="/pricing">
            {t('orders.toPricing')}
          </Link>
        </p>
      </div>
    );
  }
  return (
    <>
      <ul className="orders" aria-label={t('orders.caption')}>
        {items.map((o) => (
          <li key={o.id} className="order">
            <div className="order-head">
              <Heading>{packName(o.packId)}</Heading>
              <span className={`order-status status-${o.status}`}>{t(`status.${o.status}`)}</span>
            </div>
            <dl>
              <div>
                <dt>{t('fields.date')}</dt>
                <dd>
                  <time dateTime={o.createdAt}>{day(lang, o.createdAt)}</time>
                </dd>
              </div>
              <div>
                <dt>{t('fields.credits')}</dt>
                <dd>{number(lang, o.credits)}</dd>
              </div>
              <div>
                <dt>{t('fields.amount')}</dt>
                <dd>
                  {formatMoney(o.amount, o.currency, lang)}
                  {o.refundedAmount > 0 ? <span className="muted"> · {t('orders.refunded', { amount: formatMoney(o.refundedAmount, o.currency, lang) })}</span> : null}
                </dd>
              </div>
              {/* what the receipt calls it, and what to quote when writing to us about a payment */}
              <div className="order-number">
                <dt>{t('fields.orderNumber')}</dt>
                <dd>{o.id}</dd>
              </div>
            </dl>
          </li>
        ))}
      </ul>
      {orders.isFetchNextPageError ? <LoadError error={orders.error} fallback={t('orders.error')} retry={() => void orders.fetchNextPage()} /> : null}
      {orders.hasNextPage ? (
        <p>
          <button type="button" className="button-quiet" disabled={orders.isFetchingNextPage} onClick={() => void orders.fetchNextPage()}>
            {t('orders.loadMore')}
          </button>
        </p>
      ) : null}
    </>
  );
}

export default function Orders() {
  const { t } = useTranslation('billing');
  const me = useMe();
  if (me.isPending) {
    return (
      <Page title={t('orders.title')} className="narrow">
        <p className="loading" role="status">
          {t('orders.loading')}
        </p>
      </Page>
    );
  }
  if (!me.data) return <SignInPage title={t('orders.title')} />;
  return (
    <Page title={t('orders.title')} lead={t('orders.lead')} className="narrow billing-page">
      <OrderList />
    </Page>
  );
}
