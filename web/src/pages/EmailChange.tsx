import { useEffect, useRef } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { FormAlert } from '../components/Form';
import { failureOf } from '../api';
import { queryKeys } from '../api/queries';
import { confirmEmailChange, undoEmailChange } from '../api/account';

/**
 * `/email-change?confirm=…` (the link sent to the new address) and `/email-change?undo=…` (the one
 * sent to the old address). Nothing happens on load — mail scanners open links too — only when the
 * person presses the button.
 */
export default function EmailChange() {
  const { t } = useTranslation('settings');
  const [params] = useSearchParams();
  const client = useQueryClient();
  const confirmToken = params.get('confirm');
  const undoToken = params.get('undo');
  const confirm = useMutation({ mutationFn: confirmEmailChange, onSuccess: () => client.invalidateQueries({ queryKey: queryKeys.me }) });
  const undo = useMutation({ mutationFn: undoEmailChange, onSuccess: () => client.setQueryData(queryKeys.me, null) });
  const done = useRef<HTMLDivElement>(null);
  const succeeded = confirm.isSuccess || undo.isSuccess;
  useEffect(() => {
    if (succeeded) done.current?.focus();
  }, [succeeded]);

  if (!confirmToken && !undoToken) {
    return (
      <Page title={t('emailChange.title')} className="narrow">
        <FormAlert message={t('emailChange.noToken')} />
        <p>
          <Link to="/settings/security">{t('emailChange.toSettings')}</Link>
        </p>
      </Page>
    );
  }

  if (undoToken) {
    return (
      <Page title={t('emailChange.undoTitle')} lead={undo.isSuccess ? undefined : t('emailChange.undoLead')} className="narrow">
        {undo.isSuccess ? (
          <div ref={done} className="notice notice-done" role="status" tabIndex={-1}>
            <p>{t('emailChange.undone')}</p>
            <p>
              <Link to="/sign-in">{t('emailChange.toSignIn')}</Link>
            </p>
          </div>
        ) : (
          <>
            <FormAlert title={t('emailChange.failedTitle')} message={failureOf(undo, t('genericError'))} />
            <button type="button" className="button-primary" disabled={undo.isPending} onClick={() => undo.mutate(undoToken)}>
              {undo.isPending ? t('emailChange.working') : t('emailChange.undo')}
            </button>
          </>
        )}
      </Page>
    );
  }

  return (
    <Page title={t('emailChange.title')} lead={confirm.isSuccess ? undefined : t('emailChange.lead')} className="narrow">
      {confirm.isSuccess ? (
        <div ref={done} className="notice notice-done" role="status" tabIndex={-1}>
          <p>{t('emailChange.confirmed', { email: confirm.data.email })}</p>
          <p>
            <Link to="/settings/security">{t('emailChange.toSettings')}</Link>
          </p>
        </div>
      ) : (
        <>
          <FormAlert title={t('emailChange.failedTitle')} message={failureOf(confirm, t('genericError'))} />
          <button type="button" className="button-primary" disabled={confirm.isPending} onClick={() => confirm.mutate(confirmToken!)}>
            {confirm.isPending ? t('emailChange.working') : t('emailChange.confirm')}
          </button>
        </>
      )}
    </Page>
  );
}
