import { Link, useSearchParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { FormAlert } from '../components/Form';
import { ResendConfirmation } from '../components/ResendConfirmation';
import { failureOf, verifyEmail } from '../api';

/** `/verify-email?token=…` (the link in the email): the token is sent once, on load. */
export default function VerifyEmail() {
  const { t } = useTranslation('auth');
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const result = useQuery({
    queryKey: ['verify-email', token],
    queryFn: async () => {
      await verifyEmail(token);
      return true;
    },
    enabled: token !== '',
    retry: false,
    staleTime: Infinity,
    gcTime: Infinity,
    refetchOnWindowFocus: false,
  });
  const failed = token === '' ? t('verify.noToken') : failureOf(result, t('errors.generic'));
  return (
    <Page title={result.isSuccess ? t('verify.doneTitle') : t('verify.title')} className="narrow">
      {result.isSuccess ? (
        <>
          <div className="notice" role="status">
            <p>{t('verify.done')}</p>
          </div>
          <p>
            <Link to="/sign-in">{t('verify.toSignIn')}</Link>
          </p>
        </>
      ) : failed ? (
        <>
          <FormAlert title={t('verify.failedTitle')} message={failed} />
          <p className="muted">{t('verify.failedHelp')}</p>
          <ResendConfirmation />
          <p>
            <Link to="/sign-in">{t('verify.toSignIn')}</Link> · <Link to="/sign-up">{t('verify.toSignUp')}</Link>
          </p>
        </>
      ) : (
        <p className="loading" role="status">
          {t('verify.checking')}
        </p>
      )}
    </Page>
  );
}
