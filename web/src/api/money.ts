/** Prices and packs: pure functions (no API), shared by the pricing and order pages. */

/** A pack as far as choosing one goes. */
export interface PackSize {
  credits: number;
}

/** An amount of a currency's minor unit (cents) for the locale: "$5.00", "US$5.00". */
export function formatMoney(minor: number, currency: string, locale: string, extraDigits = 0): string {
  const code = currency.toUpperCase();
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  const options: Intl.NumberFormatOptions = { style: 'currency', currency: code, ...(extraDigits ? { maximumFractionDigits: digits + extraDigits } : {}) };
  return new Intl.NumberFormat(locale === 'zh' ? 'zh-CN' : 'en-US', options).format(minor / 10 ** digits);
}

/** The smallest pack (fewest credits) that covers `needed` credits; the largest when none does. */
export function packFor<P extends PackSize>(packs: readonly P[], needed: number): P | undefined {
  const sorted = [...packs].sort((a, b) => a.credits - b.credits);
  return sorted.find((p) => p.credits >= needed) ?? sorted.at(-1);
}
