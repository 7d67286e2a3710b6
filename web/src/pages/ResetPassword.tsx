import { useRef, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Field, FormAlert, PasswordHint, clearIfValid, focusFirstError, showAtField, useChecks, type FieldErrors } from '../components/Form';
import { failureOf, resetPassword, type FailureFields } from '../api';

/** `/reset-password?token=…` (the link in the email): a new password. */

/** A password found in breach lists is said at the password field. */
const FIELDS: FailureFields = { AUTH_WEAK_PASSWORD: 'password' };
export default function ResetPassword() {
  const { t } = useTranslation('auth');
  const checks = useChecks();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const form = useRef<HTMLFormElement>(null);
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const mutation = useMutation({ mutationFn: (p: string) => resetPassword(token, p) });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = { password: checks.newPassword(password) };
    setErrors(found);
    if (found.password) return focusFirstError(form.current, found);
    mutation.mutate(password, { onError: (err) => showAtField(err, FIELDS, setErrors, form.current) });
  };

  if (mutation.isSuccess) {
    return (
      <Page title={t('reset.doneTitle')} className="narrow">
        <div className="notice" role="status">
          <p>{t('reset.done')}</p>
        </div>
        <p>
          <Link to="/sign-in">{t('reset.toSignIn')}</Link>
        </p>
      </Page>
    );
  }
  return (
    <Page title={t('reset.title')} lead={t('reset.lead')} className="narrow">
      <FormAlert
        title={t('errors.title')}
        message={token === '' ? t('reset.noToken') : failureOf(mutation, t('errors.generic'), FIELDS)}
      />
      <form ref={form} className="form" noValidate onSubmit={submit}>
        <Field
          id="password"
          label={t('fields.newPassword')}
          type="password"
          autoComplete="new-password"
          required
          value={password}
          error={errors.password}
          hint={<PasswordHint value={password} />}
          onChange={(e) => (setPassword(e.target.value), clearIfValid(setErrors, 'password', checks.newPassword(e.target.value)))}
        />
        <button type="submit" className="button-primary" disabled={mutation.isPending || token === ''}>
          {t('reset.submit')}
        </button>
      </form>
      <p>
        <Link to="/forgot-password">{t('reset.again')}</Link>
      </p>
    </Page>
  );
}
