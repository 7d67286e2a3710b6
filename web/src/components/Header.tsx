import { Link, NavLink } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useMe } from '../api/queries';
import { AccountMenu } from './AccountMenu';
import { LanguageSwitch } from './LanguageSwitch';

function AccountArea() {
  const { t } = useTranslation();
  const me = useMe();
  if (me.data) return <AccountMenu me={me.data} />;
  // Until the first answer: the link's room is kept, so the header does not shift.
  if (me.isPending) return <span className="nav-pending" aria-hidden="true">{t('nav.signIn')}</span>;
  return (
    <NavLink to="/sign-in" className="sign-in">
      {t('nav.signIn')}
    </NavLink>
  );
}

/**
 * The main navigation: signed in, the two places a person works in (creating, the library) come
 * first and the brand is the way home; signed out (or until GET /v1/me answers), home.
 */
export function Header() {
  const { t } = useTranslation();
  const signedIn = Boolean(useMe().data);
  return (
    <header className="site-header">
      <div className="site-header-inner">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          {t('brand')}
        </Link>
        <nav className="main-nav" aria-label={t('nav.label')}>
          <ul>
            {signedIn ? (
              <>
                <li>
                  <NavLink to="/create">{t('account.create')}</NavLink>
                </li>
                <li>
                  <NavLink to="/library">{t('account.library')}</NavLink>
                </li>
              </>
            ) : (
              <li>
                <NavLink to="/" end>
                  {t('nav.home')}
                </NavLink>
              </li>
            )}
            <li>
              <NavLink to="/gallery">{t('nav.gallery')}</NavLink>
            </li>
            <li>
              <NavLink to="/pricing">{t('nav.pricing')}</NavLink>
            </li>
          </ul>
        </nav>
        <div className="header-tools">
          <AccountArea />
          <LanguageSwitch />
        </div>
      </div>
    </header>
  );
}
