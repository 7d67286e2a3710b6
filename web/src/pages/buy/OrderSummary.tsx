import { useTranslation } from 'react-i18next';
import { formatMoney, usePricing, type Order } from '../../api/buy';
import { day } from '../../i18n/dates';
import { number } from '../account/common';

/** The pack's name in the page's language (from the pricing), else its id. */
export function usePackName() {
  const { i18n } = useTranslation();
  const pricing = usePricing();
  const lang = i18n.resolvedLanguage === 'zh' ? 'zh' : 'en';
  return (packId: string) => pricing.data?.packs.find((p) => p.id === packId)?.name[lang] ?? packId;
}

/** An order: pack, credits, amount, status, date. */
export function OrderSummary({ order }: { order: Order }) {
  const { t, i18n } = useTranslation('billing');
  const packName = usePackName();
  const lang = i18n.resolvedLanguage;
  return (
    <dl className="order-summary">
      <div>
        <dt>{t('fields.pack')}</dt>
        <dd>{packName(order.packId)}</dd>
      </div>
      <div>
        <dt>{t('fields.credits')}</dt>
        <dd>{number(lang ?? 'en', order.credits)}</dd>
      </div>
      <div>
        <dt>{t('fields.amount')}</dt>
        <dd>{formatMoney(order.amount, order.currency, lang ?? 'en')}</dd>
      </div>
      <div>
        <dt>{t('fields.status')}</dt>
        <dd className={`order-status status-${order.status}`}>{t(`status.${order.status}`)}</dd>
      </div>
      <div>
        <dt>{t('fields.date')}</dt>
        <dd>
          <time dateTime={order.createdAt}>{day(lang, order.createdAt)}</time>
        </dd>
      </div>
    </dl>
  );
}
