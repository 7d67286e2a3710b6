import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../../components/Page';
import { FormAlert } from '../../components/Form';
import { failureOf, type Me } from '../../api';
import { useMe } from '../../api/queries';
import { SignInPrompt } from './common';

/**
 * Who may see a staff page: signed out → a sign-in prompt, without one of `roles` → "not allowed",
 * else the page. The <h1> is the page's own title in every case.
 */
export function StaffGate({ roles, title, signedOut, children }: { roles: string[]; title: string; signedOut: string; children: (me: Me) => ReactNode }) {
  // admin's texts too: the roles' names
  const { t, i18n } = useTranslation(['finance', 'admin']);
  const me = useMe();
  if (me.isPending) {
    return (
      <Page title={title} className="staff">
        <p className="loading" role="status">
          {t('loading')}
        </p>
      </Page>
    );
  }
  if (me.isError) {
    return (
      <Page title={title} className="staff">
        <FormAlert message={failureOf(me, t('genericError'))} />
      </Page>
    );
  }
  if (!me.data) {
    return (
      <Page title={title} className="staff narrow">
        <SignInPrompt text={signedOut} signIn={t('signIn')} />
      </Page>
    );
  }
  if (!me.data.roles.some((r) => roles.includes(r))) {
    // the roles by their names in the page's language ("Finance or Admin", "财务或管理员"), not their codes
    const roleNames = new Intl.ListFormat(i18n.language, { type: 'disjunction' }).format(roles.map((r) => t(`admin:roles.${r}`)));
    return (
      <Page title={title} className="staff narrow">
        <div className="notice notice-refused" role="alert">
          <h2>{t('notAllowed.title')}</h2>
          <p>{t('notAllowed.text', { roles: roleNames })}</p>
        </div>
        <p>
          <Link to="/">{t('notAllowed.home')}</Link>
        </p>
      </Page>
    );
  }
  return <>{children(me.data)}</>;
}
