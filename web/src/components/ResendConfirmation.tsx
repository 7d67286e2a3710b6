import { useRef, useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { failureOf, resendVerification } from '../api';
import { Field, FormAlert, focusFirstError, useChecks, type FieldErrors } from './Form';

/**
 * A new confirmation link for an account that is still waiting for its first: to the address the
 * person already typed (`email`), or to one typed here. The answer is the same whether or not such
 * an account exists, so the page never tells who has one.
 */
export function ResendConfirmation({ email: given }: { email?: string }) {
  const { t } = useTranslation('auth');
  const checks = useChecks();
  const form = useRef<HTMLFormElement>(null);
  const [email, setEmail] = useState(given ?? '');
  const [errors, setErrors] = useState<FieldErrors>({});
  const resend = useMutation({ mutationFn: (address: string) => resendVerification(address) });

  if (resend.isSuccess) {
    return (
      <div className="notice" role="status">
        <p>{t('resend.sent', { email: resend.variables })}</p>
      </div>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = { resendEmail: checks.email(email) };
    setErrors(found);
    if (found.resendEmail) return focusFirstError(form.current, found);
    resend.mutate(email.trim());
  };
  return (
    <form ref={form} className="form resend-form" noValidate onSubmit={submit} aria-label={t('resend.label')}>
      <FormAlert message={failureOf(resend, t('errors.generic'))} />
      {given === undefined ? (
        <Field id="resendEmail" name="resendEmail" label={t('fields.email')} type="email" autoComplete="email" required value={email} error={errors.resendEmail} onChange={(e) => setEmail(e.target.value)} />
      ) : null}
      <button type="submit" className={given === undefined ? 'button-primary' : 'button-quiet'} disabled={resend.isPending}>
        {resend.isPending ? t('resend.sending') : t('resend.submit')}
      </button>
    </form>
  );
}
