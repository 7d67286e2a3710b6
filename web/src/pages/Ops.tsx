import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { StaffGate } from './account/StaffGate';
import '../styles/account.css';

/** `/ops`: for the roles ops and admin; the queue board is a page of the gateway (`/admin/queues`). */
export default function Ops() {
  const { t } = useTranslation('finance');
  return (
    <StaffGate roles={['ops', 'admin']} title={t('ops.title')} signedOut={t('ops.signedOut')}>
      {() => (
        <Page title={t('ops.title')} lead={t('ops.lead')} className="staff narrow">
          <section className="finance-section" aria-labelledby="board-title">
            <h2 id="board-title">{t('ops.boardTitle')}</h2>
            <p>{t('ops.boardText')}</p>
            <p>
              {/* a page of the gateway, not of this app: a full page load */}
              <a className="button" href="/admin/queues">
                {t('ops.boardLink')}
              </a>
            </p>
          </section>
        </Page>
      )}
    </StaffGate>
  );
}
