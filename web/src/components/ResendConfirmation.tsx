import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { failureOf, resendVerification } from '../api';
import { Field, FormAlert, useEmailForm } from './Form';

/**
 * A new confirmation link for an account that is still waiting for its first: to the address the
 * person already typed (`email`), or to one typed here. The answer is the same whether or not such
 * an account exists, so the page never tells who has one.
 */
export function ResendConfirmation({ email: given }: { email?: string }) {
  const { t } = useTranslation('auth');
  const resend = useMutation({ mutationFn: (address: string) => resendVerification(address) });
  const { form, email, setEmail, error, submit } = useEmailForm('resendEmail', (address) => resend.mutate(address), given ?? '');

  if (resend.isSuccess) {
    return (
      <div className="notice" role="status">
        <p>{t('resend.sent', { email: resend.variables })}</p>
      </div>
    );
  }
  return (
    <form ref={form} className="form resend-form" noValidate onSubmit={submit} aria-label={t('resend.label')}>
      <FormAlert message={failureOf(resend, t('errors.generic'))} />
      {given === undefined ? (
        <Field id="resendEmail" name="resendEmail" label={t('fields.email')} type="email" autoComplete="email" required value={email} error={error} onChange={(e) => setEmail(e.target.value)} />
      ) : null}
      <button type="submit" className={given === undefined ? 'button-primary' : 'button-quiet'} disabled={resend.isPending}>
        {resend.isPending ? t('resend.sending') : t('resend.submit')}
      </button>
    </form>
  );
}
