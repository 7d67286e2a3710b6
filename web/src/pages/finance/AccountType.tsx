import { useTranslation } from 'react-i18next';

/** A ledger account type in the page's language (the API's name when there is no word for it). */
export const useAccountType = () => {
  const { t } = useTranslation('finance');
  return (type: string) => t(`trial.types.${type}`, { defaultValue: type });
};

/** An account type's word, and under it the type as the API and the CSVs name it, where the two differ. */
export function AccountTypeName({ type }: { type: string }) {
  const label = useAccountType()(type);
  return (
    <>
      {label}
      {label.toLowerCase() === type ? null : <span className="account-id">{type}</span>}
    </>
  );
}
