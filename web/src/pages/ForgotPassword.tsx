import { Link } from 'react-router';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Field, FormAlert, useEmailForm } from '../components/Form';
import { failureOf, requestPasswordReset } from '../api';

/** Always the same answer, whether or not an account has the address. */
export default function ForgotPassword() {
  const { t } = useTranslation('auth');
  const mutation = useMutation({ mutationFn: requestPasswordReset });
  const { form, email, setEmail, error, submit } = useEmailForm('email', (address) => mutation.mutate(address));

  if (mutation.isSuccess) {
    return (
      <Page title={t('forgot.sentTitle')} className="narrow">
        <div className="notice" role="status">
          <p>{t('forgot.sent')}</p>
        </div>
        <p>
          <Link to="/sign-in">{t('forgot.toSignIn')}</Link>
        </p>
      </Page>
    );
  }
  return (
    <Page title={t('forgot.title')} lead={t('forgot.lead')} className="narrow">
      <FormAlert title={t('errors.title')} message={failureOf(mutation, t('errors.generic'))} />
      <form ref={form} className="form" noValidate onSubmit={submit}>
        <Field id="email" label={t('fields.email')} type="email" autoComplete="email" required value={email} error={error} onChange={(e) => setEmail(e.target.value)} />
        <button type="submit" className="button-primary" disabled={mutation.isPending}>
          {t('forgot.submit')}
        </button>
      </form>
      <p>
        <Link to="/sign-in">{t('forgot.toSignIn')}</Link>
      </p>
    </Page>
  );
}
