import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router';

/**
 * For a signed-out visitor of a page that needs an account: why there is nothing here, and the
 * way in (sign-in comes back to this address). `children`: more ways in (e.g. create an account).
 */
export function SignInPrompt({ text, signIn, heading, children }: { text: string; signIn: string; heading?: string; children?: ReactNode }) {
  const { pathname, search } = useLocation();
  return (
    <div className="notice">
      {heading ? <h2>{heading}</h2> : null}
      <p>{text}</p>
      <p className="actions-row">
        <Link className="button" to={`/sign-in?returnTo=${encodeURIComponent(pathname + search)}`}>
          {signIn}
        </Link>
        {children}
      </p>
    </div>
  );
}
