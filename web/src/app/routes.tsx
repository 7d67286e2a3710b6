import { lazy, type ComponentType } from 'react';
import { Navigate, useLocation } from 'react-router';
import type { PAGE_PATHS } from './paths';

type PagePath = (typeof PAGE_PATHS)[number];

const Home = lazy(() => import('../pages/Home'));
const Document = lazy(() => import('../pages/Document'));
const SignIn = lazy(() => import('../pages/SignIn'));
const SignUp = lazy(() => import('../pages/SignUp'));
const VerifyEmail = lazy(() => import('../pages/VerifyEmail'));
const EmailChange = lazy(() => import('../pages/EmailChange'));
const ForgotPassword = lazy(() => import('../pages/ForgotPassword'));
const ResetPassword = lazy(() => import('../pages/ResetPassword'));
const NotFound = lazy(() => import('../pages/NotFound'));
const Create = lazy(() => import('../pages/Create'));
const Generation = lazy(() => import('../pages/Generation'));
const Library = lazy(() => import('../pages/Library'));
const Settings = lazy(() => import('../pages/Settings'));
const Finance = lazy(() => import('../pages/Finance'));
const Ops = lazy(() => import('../pages/Ops'));
const Moderation = lazy(() => import('../pages/Moderation'));
const Admin = lazy(() => import('../pages/Admin'));
const Gallery = lazy(() => import('../pages/Gallery'));
const Pricing = lazy(() => import('../pages/Pricing'));
const Orders = lazy(() => import('../pages/Orders'));
const BillingSuccess = lazy(() => import('../pages/BillingSuccess'));
const BillingCancel = lazy(() => import('../pages/BillingCancel'));

export interface AppRoute {
  /**
   * react-router path below the layout; `/${path}` is also the analytics page path. One of
   * PAGE_PATHS (the build's routes.json, which the gateway answers 200 for), or the catch-all.
   */
  path: PagePath | '*';
  Component: ComponentType;
}

const doc = (namespace: 'privacy' | 'terms' | 'content' | 'changelog' | 'contact'): ComponentType =>
  function DocumentRoute() {
    return <Document namespace={namespace} />;
  };

/** `/login` is what people (and older links) type: the sign-in page, with its query string. */
function ToSignIn() {
  const { search } = useLocation();
  return <Navigate to={`/sign-in${search}`} replace />;
}

/**
 * Every page of the app. Paths other services link to are kept as they are: auth's emails
 * (/verify-email?token=, /reset-password?token=), its Google sign-in errors (/sign-in?error=),
 * notification's emails (/forgot-password, /settings/security, /billing/orders, /pricing,
 * /generations/:id) and billing's Stripe return pages (/billing/success?order=, /billing/cancel?order=).
 */
export const ROUTES: AppRoute[] = [
  { path: '', Component: Home },
  { path: 'privacy', Component: doc('privacy') },
  { path: 'terms', Component: doc('terms') },
  { path: 'content-policy', Component: doc('content') },
  { path: 'changelog', Component: doc('changelog') },
  { path: 'contact', Component: doc('contact') },
  { path: 'gallery', Component: Gallery },
  { path: 'pricing', Component: Pricing },
  { path: 'sign-up', Component: SignUp },
  { path: 'sign-in', Component: SignIn },
  { path: 'login', Component: ToSignIn },
  { path: 'verify-email', Component: VerifyEmail },
  { path: 'email-change', Component: EmailChange },
  { path: 'forgot-password', Component: ForgotPassword },
  { path: 'reset-password', Component: ResetPassword },
  { path: 'create', Component: Create },
  { path: 'generations/:id', Component: Generation },
  { path: 'library', Component: Library },
  { path: 'settings', Component: Settings },
  { path: 'settings/:section', Component: Settings },
  { path: 'billing/orders', Component: Orders },
  { path: 'billing/success', Component: BillingSuccess },
  { path: 'billing/cancel', Component: BillingCancel },
  { path: 'finance', Component: Finance },
  { path: 'ops', Component: Ops },
  { path: 'moderation', Component: Moderation },
  { path: 'back-office', Component: Admin },
  { path: '*', Component: NotFound },
];

/** The analytics page path of a route: its template, with a fixed name for unknown addresses. */
export function pageTemplate(path: string | undefined): string {
  if (path === undefined) return '/';
  return path === '*' ? '/(not-found)' : `/${path}`;
}
