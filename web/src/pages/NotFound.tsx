import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';

export default function NotFound() {
  const { t } = useTranslation();
  return (
    <Page title={t('notFound.title')} lead={t('notFound.text')} className="narrow">
      <p>
        <Link className="button" to="/">
          {t('notFound.home')}
        </Link>
      </p>
    </Page>
  );
}
