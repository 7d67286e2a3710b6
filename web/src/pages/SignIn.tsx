import { useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import Upcoming from './Upcoming';

const KNOWN = new Set(['oauth_state', 'oauth_failed', 'oauth_unavailable', 'email_unverified', 'account_conflict', 'account_disabled', 'link_requires_password']);

/** Sign-in comes next; what it shows already is the reason a Google sign-in came back here (`?error=`). */
export default function SignIn() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const error = params.get('error');
  const message = error ? t(`signInErrors.${KNOWN.has(error) ? error : 'unknown'}`) : undefined;
  return (
    <Upcoming
      page="signIn"
      before={
        message ? (
          <div className="alert" role="alert">
            <h2>{t('signInErrors.title')}</h2>
            <p>{message}</p>
          </div>
        ) : undefined
      }
    />
  );
}
