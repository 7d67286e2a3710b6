import { useEffect, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Loaded } from '../components/Loaded';
import { FormAlert } from '../components/Form';
import { failureOf } from '../api';
import { useMe } from '../api/queries';
import { useRequestKey } from '../api/request-key';
import { formatMoney, packFor, useCheckout, usePricing, useTierOptions, type CreditPack, type Tier } from '../api/buy';
import '../styles/buy.css';

/** `?shortfall=N`: the credits a generation lacked (the create page links here after a 402). */
function shortfallOf(value: string | null): number | undefined {
  if (!value || !/^\d{1,9}$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 ? n : undefined;
}

function TierCard({ tier }: { tier: Tier }) {
  const { t } = useTranslation('pricing');
  const label = t(`common:tiers.${tier.id}.label`, { defaultValue: tier.label });
  const description = t(`common:tiers.${tier.id}.description`, { defaultValue: tier.description });
  const cheapest = Math.min(...tier.sizes.map((s) => s.creditsPerImage), tier.creditsPerImage);
  return (
    <li className="tier">
      <h3>{label}</h3>
      <p className="muted">{description}</p>
      <p className="tier-price">{t('fromCredits', { count: cheapest })}</p>
      <dl>
        <dt>{t('sizes')}</dt>
        <dd>
          <ul className="tier-sizes">
            {tier.sizes.map((s) => (
              <li key={s.size}>{t('sizeCost', { size: `${s.width}×${s.height}`, count: s.creditsPerImage })}</li>
            ))}
          </ul>
        </dd>
        <dt>{t('perGeneration')}</dt>
        <dd>{t('maxCount', { count: tier.maxCount })}</dd>
        <dt>{t('seed')}</dt>
        <dd>{tier.seed ? t('yes') : t('no')}</dd>
        <dt>{t('negativePrompt')}</dt>
        <dd>{tier.negativePrompt ? t('yes') : t('no')}</dd>
        <dt>{t('references')}</dt>
        <dd>{tier.references ? t('referencesMax', { count: tier.references.max }) : t('no')}</dd>
      </dl>
    </li>
  );
}

export default function Pricing() {
  const { t, i18n } = useTranslation('pricing');
  const [params] = useSearchParams();
  const { pathname, search } = useLocation();
  const me = useMe();
  const pricing = usePricing();
  const options = useTierOptions();
  const checkout = useCheckout();
  const requestKey = useRequestKey();
  const lang = i18n.resolvedLanguage === 'zh' ? 'zh' : 'en';
  const shortfall = shortfallOf(params.get('shortfall'));
  const packs = pricing.data?.packs ?? [];
  const recommended = shortfall !== undefined ? packFor(packs, shortfall) : undefined;
  const signedIn = Boolean(me.data);
  const returnTo = encodeURIComponent(pathname + search);

  // The pack whose Stripe Checkout the browser is on its way to: the buttons stay busy until the page
  // is gone (a second click would open a second order). Back from Stripe (the page restored from the
  // back-forward cache) makes them usable again.
  const [leaving, setLeaving] = useState<string | undefined>();
  useEffect(() => {
    const back = (e: PageTransitionEvent) => e.persisted && setLeaving(undefined);
    addEventListener('pageshow', back);
    return () => removeEventListener('pageshow', back);
  }, []);
  const busy = checkout.isPending || leaving !== undefined;

  const buy = (pack: CreditPack) => {
    // One key until the API answers: Buy again after a lost answer goes on to the order the first
    // click opened (its Stripe page), not a second order; after an answer, or for another pack, a new one.
    const body = { packId: pack.id, locale: lang } as const;
    checkout.mutate(
      { ...body, key: requestKey.keyFor(body) },
      {
        onSuccess: ({ url }) => {
          requestKey.answered();
          setLeaving(pack.id);
          location.assign(url);
        },
        onError: (err) => requestKey.answered(err),
      },
    );
  };

  return (
    <Page title={t('title')} lead={t('lead')} className="pricing-page">
      {shortfall !== undefined && recommended ? (
        <div className="notice shortfall" role="status">
          <p>
            <strong>{t('shortfall', { count: shortfall })}</strong>
          </p>
          <p>{recommended.credits >= shortfall ? t('shortfallHelp', { name: recommended.name[lang] }) : t('shortfallNone')}</p>
        </div>
      ) : null}
      <FormAlert title={t('checkoutFailed')} message={failureOf(checkout, t('checkoutError'))} />

      <section aria-labelledby="packs-title">
        <h2 id="packs-title">{t('packsTitle')}</h2>
        <Loaded query={pricing} loading={t('loading')} fallback={t('error')}>
          {(data) => (
            <>
              <ul className="packs">
                {packs.map((pack) => {
                  const name = pack.name[lang];
                  const highlighted = recommended?.id === pack.id && recommended.credits >= (shortfall ?? 0);
                  const pending = (checkout.isPending && checkout.variables.packId === pack.id) || leaving === pack.id;
                  return (
                    <li key={pack.id} className={highlighted ? 'pack recommended' : 'pack'} aria-labelledby={`pack-${pack.id}`}>
                      {highlighted ? <p className="badge">{t('recommended')}</p> : null}
                      <h3 id={`pack-${pack.id}`}>{name}</h3>
                      <p className="pack-credits">{t('credits', { count: pack.credits })}</p>
                      <p className="pack-price">{formatMoney(pack.price, pack.currency, lang)}</p>
                      <p className="muted">{t('perCredit', { price: formatMoney(pack.price / pack.credits, pack.currency, lang, 1) })}</p>
                      {signedIn ? (
                        <button type="button" className={highlighted ? 'button' : 'button-quiet'} disabled={busy} onClick={() => buy(pack)}>
                          {pending ? t('buying') : t('buy', { name })}
                        </button>
                      ) : (
                        <Link className={highlighted ? 'button' : 'button-quiet'} to={`/sign-in?returnTo=${returnTo}`}>
                          {t('signInToBuy', { name })}
                        </Link>
                      )}
                    </li>
                  );
                })}
              </ul>
              <p className="tax-note">{t(data.tax.pricesInclude ? 'tax.included' : data.tax.calculatedAtCheckout ? 'tax.addedCalculated' : 'tax.added')}</p>
              <p className="muted" aria-live="polite">
                {busy ? t('buying') : signedIn ? t('checkoutNote') : me.isPending ? '' : t('signInNote')}
              </p>
              {signedIn ? (
                <p>
                  <Link to="/billing/orders">{t('ordersLink')}</Link>
                </p>
              ) : null}
            </>
          )}
        </Loaded>
      </section>

      <section aria-labelledby="tiers-title">
        <h2 id="tiers-title">{t('tiersTitle')}</h2>
        <p className="muted">{t('tiersLead')}</p>
        <Loaded query={options} loading={t('tiersLoading')} fallback={t('tiersError')}>
          {(data) => (
            <ul className="tiers">
              {data.tiers.map((tier) => (
                <TierCard key={tier.id} tier={tier} />
              ))}
            </ul>
          )}
        </Loaded>
      </section>
    </Page>
  );
}
