import type { ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { Loading } from './components/Loading.tsx';
import { Layout } from './Layout.tsx';
import { Accounts } from './pages/Accounts.tsx';
import { Admin } from './pages/Admin.tsx';
import { Audit } from './pages/Audit.tsx';
import { Home } from './pages/Home.tsx';
import { NotFound } from './pages/NotFound.tsx';
import { Requests } from './pages/Requests.tsx';
import { Sessions } from './pages/Sessions.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { SshKeys } from './pages/SshKeys.tsx';
import { SessionProvider, useSession } from './session.tsx';

/**
 * The console's routes. Every screen but sign-in sits in the shared layout behind a session;
 * a screen with sub-pages owns them (`accounts/*`), so it can be replaced as one file.
 */
export function App() {
  return (
    <BrowserRouter>
      <SessionProvider>
        <Routes>
          <Route path="/sign-in" element={<SignIn />} />
          <Route
            element={
              <RequireSession>
                <Layout />
              </RequireSession>
            }
          >
            <Route index element={<Home />} />
            <Route path="accounts/*" element={<Accounts />} />
            <Route path="requests/*" element={<Requests />} />
            <Route path="sessions/*" element={<Sessions />} />
            <Route path="audit/*" element={<Audit />} />
            <Route path="admin/*" element={<Admin />} />
            <Route path="ssh-keys" element={<SshKeys />} />
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </SessionProvider>
    </BrowserRouter>
  );
}

/** Sends a visitor without a session to sign in, and back here afterwards. */
function RequireSession({ children }: { readonly children: ReactNode }) {
  const { state } = useSession();
  const location = useLocation();
  if (state.status === 'loading') {
    return (
      <main className="page-center">
        <Loading what="your session" />
      </main>
    );
  }
  if (state.status === 'signed-out') {
    const from = `${location.pathname}${location.search}`;
    return <Navigate to="/sign-in" replace state={{ from }} />;
  }
  return children;
}
