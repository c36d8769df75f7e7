import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
import type { Role } from './api-types.ts';
import { ErrorNotice } from './components/ErrorNotice.tsx';
import { useSession, useUser } from './session.tsx';

interface NavItem {
  readonly to: string;
  readonly label: string;
  /**
   * Who sees the link. Only a convenience: the server decides what each role may do, and a
   * screen reached without the link gets the server's refusal.
   */
  readonly roles?: readonly Role[];
}

const NAV: readonly NavItem[] = [
  { to: '/', label: 'Home' },
  { to: '/accounts', label: 'Accounts' },
  { to: '/requests', label: 'Requests' },
  { to: '/sessions', label: 'Sessions', roles: ['admin', 'auditor'] },
  { to: '/audit', label: 'Audit', roles: ['admin', 'auditor'] },
  { to: '/admin', label: 'Admin', roles: ['admin'] },
];

/**
 * The frame of every signed-in screen: the navigation, who is signed in with their own settings
 * (SSH keys), and sign-out.
 */
export function Layout() {
  const user = useUser();
  const { signOut } = useSession();
  const [signOutError, setSignOutError] = useState<unknown>(null);
  const [signingOut, setSigningOut] = useState(false);
  useFocusOnNavigation();

  const onSignOut = () => {
    setSigningOut(true);
    setSignOutError(null);
    signOut().catch((error: unknown) => {
      setSigningOut(false);
      setSignOutError(error);
    });
  };

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="Tessera home">
          <img src="/favicon.svg" alt="" width="24" height="24" />
          <span>Tessera</span>
        </NavLink>
        <nav aria-label="Main" className="mainnav">
          <ul>
            {NAV.filter((item) => item.roles === undefined || item.roles.includes(user.role)).map(
              (item) => (
                <li key={item.to}>
                  <NavLink to={item.to} end={item.to === '/'}>
                    {item.label}
                  </NavLink>
                </li>
              ),
            )}
          </ul>
        </nav>
        <div className="whoami">
          <span>
            <span className="visually-hidden">Signed in as </span>
            <strong>{user.name}</strong> <span className="role">{user.role}</span>
          </span>
          {/* The user's own settings, beside their name: every role has them. */}
          <nav aria-label="Your account" className="accountnav">
            <NavLink to="/ssh-keys">SSH keys</NavLink>
          </nav>
          <button
            type="button"
            className="button-secondary"
            onClick={onSignOut}
            disabled={signingOut}
          >
            {signingOut ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      </header>
      {signOutError !== null && (
        <div className="banner">
          <ErrorNotice doing="sign out: your session may still be open" error={signOutError} />
        </div>
      )}
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

/**
 * After moving to another screen, focus goes to its heading, so keyboard and screen reader users
 * start at the new content rather than where the old page left them. Not on the first load: the
 * page then starts at the top, as any page does.
 */
function useFocusOnNavigation(): void {
  const { pathname } = useLocation();
  const shown = useRef(pathname);
  useEffect(() => {
    if (shown.current === pathname) return;
    shown.current = pathname;
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [pathname]);
}
