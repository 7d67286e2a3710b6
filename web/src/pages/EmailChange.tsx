import { useEffect, useRef } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { FormAlert } from '../components/Form';
import { failureOf, hasStatus } from '../api';
import { forgetAccount, queryKeys } from '../api/queries';
import { confirmEmailChange, previewEmailChange, undoEmailChange } from '../api/account';

/**
 * `/email-change?confirm=…` (the link sent to the new address) and `/email-change?undo=…` (the one
 * sent to the old address). On load the page only asks what the link will do — which address the
 * account has now and which it will have — so the person sees it before pressing the button; that
 * look uses nothing up (mail scanners open links too). The change happens on the button.
 */
/** Every link's preview, under one key: forgotten together once a link is used. */
const PREVIEW = ['email-change-preview'] as const;

export default function EmailChange() {
  const { t } = useTranslation('settings');
  const [params] = useSearchParams();
  const client = useQueryClient();
  const confirmToken = params.get('confirm');
  const undoToken = params.get('undo');
  const kind = undoToken ? 'undo' : 'confirm';
  const token = undoToken ?? confirmToken;
  // Once used, the link previews as invalid: its cached preview goes (coming back to this page in
  // the app must not show the button again).
  const forgetPreviews = () => client.removeQueries({ queryKey: PREVIEW });
  const confirm = useMutation({
    mutationFn: confirmEmailChange,
    onSuccess: () => {
      forgetPreviews();
      return client.invalidateQueries({ queryKey: queryKeys.me });
    },
  });
  const undo = useMutation({
    mutationFn: undoEmailChange,
    onSuccess: () => {
      // every session of the account ended: this browser is signed out, and keeps nothing of it
      forgetAccount(client, null);
    },
  });
  const action = kind === 'undo' ? undo : confirm;
  const preview = useQuery({
    queryKey: [...PREVIEW, kind, token],
    queryFn: () => previewEmailChange(kind, token!),
    // never asked again once the button was pressed (a used link previews as invalid)
    enabled: token !== null && action.isIdle,
    retry: false,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
  const done = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (action.isSuccess) done.current?.focus();
  }, [action.isSuccess]);

  if (!token) {
    return (
      <Page title={t('emailChange.title')} className="narrow">
        <FormAlert message={t('emailChange.noToken')} />
        <p>
          <Link to="/settings/security">{t('emailChange.toSettings')}</Link>
        </p>
      </Page>
    );
  }

  const title = kind === 'undo' ? t('emailChange.undoTitle') : t('emailChange.title');
  if (action.isSuccess) {
    return (
      <Page title={kind === 'undo' ? t('emailChange.undoneTitle') : t('emailChange.doneTitle')} className="narrow">
        <div ref={done} className="notice notice-done" role="status" tabIndex={-1}>
          {kind === 'undo' ? (
            <>
              <p>{t('emailChange.undone')}</p>
              <p>
                <Link to="/sign-in">{t('emailChange.toSignIn')}</Link>
              </p>
            </>
          ) : (
            <>
              <p>{t('emailChange.confirmed', { email: confirm.data?.email })}</p>
              <p>
                <Link to="/settings/security">{t('emailChange.toSettings')}</Link>
              </p>
            </>
          )}
        </div>
      </Page>
    );
  }

  // A link that is used, expired or not one of ours says so at once, with no button to press.
  if (hasStatus(preview.error, 400)) {
    return (
      <Page title={title} className="narrow">
        <FormAlert title={t('emailChange.invalidTitle')} message={failureOf(preview, t('genericError'))} />
        <p className="muted">{kind === 'undo' ? t('emailChange.invalidUndoHelp') : t('emailChange.invalidHelp')}</p>
        <p>{kind === 'undo' ? <Link to="/contact">{t('emailChange.toContact')}</Link> : <Link to="/settings/security">{t('emailChange.toSettings')}</Link>}</p>
      </Page>
    );
  }

  return (
    <Page title={title} lead={kind === 'undo' ? t('emailChange.undoLead') : t('emailChange.lead')} className="narrow">
      {preview.isPending ? (
        <p className="loading" role="status">
          {t('emailChange.checking')}
        </p>
      ) : preview.data ? (
        <dl className="facts email-change-facts">
          {preview.data.from ? (
            <>
              <dt>{t('emailChange.now')}</dt>
              <dd>{preview.data.from}</dd>
            </>
          ) : null}
          <dt>{kind === 'undo' ? t('emailChange.backTo') : t('emailChange.new')}</dt>
          <dd>
            <strong>{preview.data.to}</strong>
          </dd>
        </dl>
      ) : (
        // the link could not be looked at (too many tries, the service away): the button may still work
        <FormAlert title={t('emailChange.previewFailedTitle')} message={failureOf(preview, t('genericError'))} />
      )}
      <FormAlert title={t('emailChange.failedTitle')} message={failureOf(action, t('genericError'))} />
      <button type="button" className="button-primary" disabled={action.isPending || preview.isPending} onClick={() => (kind === 'undo' ? undo.mutate(token) : confirm.mutate(token))}>
        {action.isPending ? t('emailChange.working') : kind === 'undo' ? t('emailChange.undo') : t('emailChange.confirm')}
      </button>
    </Page>
  );
}
