import { useTranslation } from 'react-i18next';

/** A ledger account type in the page's language (the API's name when there is no word for it). */
export const useAccountType = () => {
  const { t } = useTranslation('finance');
  return (type: string) => t(`trial.types.${type}`, { defaultValue: type });
};
