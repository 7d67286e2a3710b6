import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { LoadError } from '../components/Loaded';
import { buyKeys, useCreditsArrived, useOrder } from '../api/buy';
import { queryKeys, useBalance, useMe } from '../api/queries';
import { OrderSummary } from './buy/OrderSummary';
import { SignInPage } from './buy/shared';
import '../styles/buy.css';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const POLL_MS = 1500;
/** After this long without the credits, the page says it takes longer than usual (it keeps waiting). */
const SLOW_MS = 20_000;
/** And stops asking after this long (a reload asks again). */
const GIVE_UP_MS = 10 * 60_000;

/** Stripe's return page: the order, then its payment, then its credits, announced as they come. */
function Progress({ orderId }: { orderId: string }) {
  const { t } = useTranslation('billing');
  const client = useQueryClient();
  const [started] = useState(() => Date.now());
  const [now, setNow] = useState(started);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const waiting = now - started < GIVE_UP_MS;
  const orderPoll = useOrder(orderId, true, false);
  const order = orderPoll.data;
  const paid = order?.status === 'paid' || order?.status === 'refunded' || order?.status === 'disputed';
  const over = order?.status === 'failed' || order?.status === 'expired';
  const arrived = useCreditsArrived(orderId, paid, false);
  const done = paid && arrived.data === true;
  const balance = useBalance(done);

  // Ask again until the order is paid and its credits are posted (or it is over).
  const { refetch: refetchOrder } = orderPoll;
  const { refetch: refetchArrived } = arrived;
  useEffect(() => {
    if (!waiting || done || over || orderPoll.isError || order === null) return;
    const timer = setInterval(() => void (paid ? refetchArrived() : refetchOrder()), POLL_MS);
    return () => clearInterval(timer);
  }, [waiting, done, over, paid, order, orderPoll.isError, refetchOrder, refetchArrived]);

  // The credits are there: the header's balance and the orders list learn it.
  useEffect(() => {
    if (!done) return;
    void client.invalidateQueries({ queryKey: queryKeys.balance });
    void client.invalidateQueries({ queryKey: buyKeys.orders });
  }, [done, client]);

  if (orderPoll.isPending) {
    return (
      <p className="loading" role="status">
        {t('success.loading')}
      </p>
    );
  }
  if (orderPoll.isError) return <LoadError error={orderPoll.error} fallback={t('success.error')} retry={() => void refetchOrder()} />;
  if (!order) {
    return (
      <div className="alert" role="alert">
        <p>{t('success.notFound')}</p>
      </div>
    );
  }

  const stage = over
    ? t('success.notPaid', { status: t(`status.${order.status}`) })
    : done
      ? t('success.done', { count: order.credits })
      : paid
        ? t('success.waitingCredits')
        : t('success.waitingPayment');
  const slow = !done && !over && now - started > SLOW_MS;

  return (
    <>
      <OrderSummary order={order} />
      <div className={done ? 'progress progress-done' : 'progress'} role="status" aria-live="polite">
        {!done && !over ? <span className="spinner" aria-hidden="true" /> : null}
        <p className="progress-stage">{stage}</p>
        {done && balance.data ? <p className="progress-balance">{t('success.balance', { count: balance.data.available })}</p> : null}
      </div>
      {slow ? <p className="notice">{t('success.slow')}</p> : null}
      <ul className="inline-links">
        {done ? (
          <li>
            <Link className="button" to="/create">
              {t('success.create')}
            </Link>
          </li>
        ) : null}
        <li>
          <Link to="/billing/orders">{t('success.orders')}</Link>
        </li>
      </ul>
    </>
  );
}

export default function BillingSuccess() {
  const { t } = useTranslation('billing');
  const [params] = useSearchParams();
  const me = useMe();
  const orderId = params.get('order') ?? '';
  // The same order Progress follows (one query): thanks only once it is paid.
  const status = useOrder(orderId, UUID.test(orderId) && Boolean(me.data), false).data?.status;
  const title =
    status === 'paid' || status === 'refunded' || status === 'disputed' ? t('success.title')
    : status === 'pending' ? t('success.pendingTitle')
    : status === 'failed' || status === 'expired' ? t('success.notPaidTitle')
    : t('success.orderTitle');
  if (me.isPending) {
    return (
      <Page title={title} className="narrow">
        <p className="loading" role="status">
          {t('success.loading')}
        </p>
      </Page>
    );
  }
  // Signed out (another browser, or the session ended while paying): no thanks for a purchase this
  // page cannot show; the payment and its credits do not depend on it.
  if (!me.data) return <SignInPage title={t('success.signedOutTitle')} text={t('success.signedOutText')} />;
  return (
    <Page title={title} lead={t('success.lead')} className="narrow billing-page">
      {UUID.test(orderId) ? (
        <Progress orderId={orderId} />
      ) : (
        <div className="notice">
          <p>{t('success.noOrder')}</p>
          <p>
            <Link to="/billing/orders">{t('success.orders')}</Link>
          </p>
        </div>
      )}
    </Page>
  );
}
