import { useTranslation } from 'react-i18next';
import { monthsOfYear } from '../i18n/dates';

/** How many years back the field offers. */
const YEARS = 10;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const pad = (n: number) => String(n).padStart(2, '0');

/**
 * A calendar day (`YYYY-MM-DD`) as three choices — day, month, year — in the page's language and
 * its order (English "7 December 2026", as the app writes dates; Chinese "2026年 12月 7日"). Not
 * `<input type=date>`: Chromium draws that in its own interface language (12/07/2026 on a Chinese
 * page, where month and day read either way). A day past the end of a newly chosen month becomes
 * that month's last.
 */
export function DateField({ id, label, value, onChange }: { id: string; label: string; value: string; onChange: (day: string) => void }) {
  const { t, i18n } = useTranslation('common');
  const zh = i18n.language === 'zh';
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  const set = (year: number, month: number, day: number) => onChange(`${year}-${pad(month)}-${pad(Math.min(day, daysIn(year, month)))}`);
  const thisYear = new Date().getUTCFullYear();
  const years = Array.from({ length: YEARS }, (_, i) => thisYear - i);
  // a day from further back (or ahead) than the list stays what it is rather than silently becoming another
  if (!years.includes(y)) years.push(y);
  const daySelect = (
    <select key="day" id={`${id}-day`} className="date-day" aria-label={t('date.day')} value={d} onChange={(e) => set(y, m, Number(e.target.value))}>
      {Array.from({ length: daysIn(y, m) }, (_, i) => (
        <option key={i + 1} value={i + 1}>
          {zh ? `${i + 1}日` : i + 1}
        </option>
      ))}
    </select>
  );
  const monthSelect = (
    <select key="month" id={`${id}-month`} className="date-month" aria-label={t('date.month')} value={m} onChange={(e) => set(y, Number(e.target.value), d)}>
      {monthsOfYear(i18n.language).map((name, i) => (
        <option key={i + 1} value={i + 1}>
          {name}
        </option>
      ))}
    </select>
  );
  const yearSelect = (
    <select key="year" id={`${id}-year`} className="date-year" aria-label={t('date.year')} value={y} onChange={(e) => set(Number(e.target.value), m, d)}>
      {years.map((year) => (
        <option key={year} value={year}>
          {zh ? `${year}年` : year}
        </option>
      ))}
    </select>
  );
  return (
    <fieldset className="field month-field date-field" id={id}>
      <legend>{label}</legend>
      <div className="month-field-choices">{zh ? [yearSelect, monthSelect, daySelect] : [daySelect, monthSelect, yearSelect]}</div>
    </fieldset>
  );
}
