/**
 * The address of every page of the app (react-router path templates, without the leading `/`),
 * apart from the "page not found" catch-all. The build writes them to `dist/routes.json`, so the
 * gateway answers an address no page has with the app's "page not found" *and a 404 status*
 * (search engines and link checkers see the truth). routes.tsx gives each one its page; a test
 * keeps the two lists equal.
 */
export const PAGE_PATHS = [
  '',
  'privacy',
  'terms',
  'content-policy',
  'changelog',
  'contact',
  'gallery',
  'pricing',
  'sign-up',
  'sign-in',
  'login',
  'verify-email',
  'forgot-password',
  'reset-password',
  'email-change',
  'create',
  'generations/:id',
  'library',
  'settings',
  'settings/:section',
  'billing/orders',
  'billing/success',
  'billing/cancel',
  'finance',
  'ops',
  'moderation',
  'back-office',
] as const;
