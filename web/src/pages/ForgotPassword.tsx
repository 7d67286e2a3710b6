import { useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Field, FormAlert, focusFirstError, useChecks, type FieldErrors } from '../components/Form';
import { failureOf, requestPasswordReset } from '../api';

/** Always the same answer, whether or not an account has the address. */
export default function ForgotPassword() {
  const { t } = useTranslation('auth');
  const checks = useChecks();
  const form = useRef<HTMLFormElement>(null);
  const [email, setEmail] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const mutation = useMutation({ mutationFn: requestPasswordReset });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = { email: checks.email(email) };
    setErrors(found);
    if (found.email) return focusFirstError(form.current, found);
    mutation.mutate(email.trim());
  };

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
        <Field id="email" label={t('fields.email')} type="email" autoComplete="email" required value={email} error={errors.email} onChange={(e) => setEmail(e.target.value)} />
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
