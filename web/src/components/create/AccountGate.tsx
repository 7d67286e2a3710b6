import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { SignInPrompt } from '../SignInPrompt';
import { useTranslation } from 'react-i18next';
import { Page } from '../Page';
import { useMe } from '../../api/queries';
import type { Me } from '../../api';

/**
 * A page that needs an account: while the account loads, a status under the page's heading;
 * signed out, the same heading with a way to sign in (and back here afterwards); signed in, the page.
 */
export function AccountGate({ title, children }: { title: string; children: (me: Me) => ReactNode }) {
  const { t } = useTranslation('create');
  const { t: tc } = useTranslation();
  const me = useMe();
  if (me.data) return <>{children(me.data)}</>;
  if (me.data === null) {
    return (
      <Page title={title} className="narrow">
        <SignInPrompt text={t('signedOut.text')} signIn={t('signedOut.signIn')}>
          <Link className="button-quiet" to="/sign-up">
            {t('signedOut.signUp')}
          </Link>
        </SignInPrompt>
      </Page>
    );
  }
  if (me.isError) {
    return (
      <Page title={title} className="narrow">
        <div className="alert" role="alert">
          <p>{t('errors.unreachable')}</p>
        </div>
      </Page>
    );
  }
  return (
    <Page title={title} className="narrow">
      <p className="loading" role="status">
        {tc('loading')}
      </p>
    </Page>
  );
}
