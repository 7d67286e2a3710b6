import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useGallery } from '../api/buy';
import { authorOf, Thumb } from './buy/shared';
import { day } from '../i18n/dates';
import '../styles/buy.css';

/** Home's strip of the latest published images (the first page of the gallery, six of them). */
export default function RecentGallery() {
  const { t, i18n } = useTranslation('gallery');
  const gallery = useGallery(6);
  const images = gallery.data?.pages[0]?.items ?? [];
  if (gallery.isPending) {
    return (
      <div className="recent-frame">
        <p role="status">{t('loading')}</p>
      </div>
    );
  }
  if (images.length === 0) {
    return (
      <div className="recent-frame">
        <p role={gallery.isError ? 'alert' : undefined}>{gallery.isError ? t('recentError') : t('recentEmpty')}</p>
        <Link to="/gallery">{t('recentLink')}</Link>
      </div>
    );
  }
  return (
    <div className="recent-strip">
      <ul>
        {images.map((image) => {
          const author = authorOf(t, image);
          const date = day(i18n.resolvedLanguage, image.publishedAt);
          return (
            <li key={image.id}>
              <Thumb image={image} alt={t('alt', { ...author, date })} />
            </li>
          );
        })}
      </ul>
      <p>
        <Link to="/gallery">{t('recentLink')}</Link>
      </p>
    </div>
  );
}
