import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';

export function Footer() {
  const { t } = useTranslation();
  return (
    <footer className="site-footer">
      <div className="site-footer-inner">
        <div className="footer-brand">
          <p className="brand">
            <span className="brand-mark" aria-hidden="true" />
            {t('brand')}
          </p>
          <p className="muted">{t('tagline')}</p>
        </div>
        <nav className="footer-nav" aria-label={t('footer.label')}>
          <div>
            <h2>{t('footer.product')}</h2>
            <ul>
              <li>
                <Link to="/">{t('nav.home')}</Link>
              </li>
              <li>
                <Link to="/gallery">{t('nav.gallery')}</Link>
              </li>
              <li>
                <Link to="/pricing">{t('nav.pricing')}</Link>
              </li>
            </ul>
          </div>
          <div>
            <h2>{t('footer.about')}</h2>
            <ul>
              <li>
                <Link to="/changelog">{t('footer.changelog')}</Link>
              </li>
              <li>
                <Link to="/contact">{t('footer.contact')}</Link>
              </li>
            </ul>
          </div>
          <div>
            <h2>{t('footer.legal')}</h2>
            <ul>
              <li>
                <Link to="/terms">{t('footer.terms')}</Link>
              </li>
              <li>
                <Link to="/privacy">{t('footer.privacy')}</Link>
              </li>
              <li>
                <Link to="/content-policy">{t('footer.content')}</Link>
              </li>
            </ul>
          </div>
        </nav>
      </div>
      <p className="copyright muted">{t('footer.copyright', { year: new Date().getFullYear() })}</p>
    </footer>
  );
}
