import { type ComponentType, lazy, Suspense } from 'react';
import { Route, Routes } from 'react-router';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Loading } from '../components/Loading.tsx';
import { NotFound } from './NotFound.tsx';
import { SessionLists } from './sessions/SessionLists.tsx';
import './sessions/sessions.css';

/**
 * Sessions: the live list, watch, kill with a reason, replay with its commands, and the
 * browser terminal. The terminal and the player are large, so their screens load only when
 * opened: the rest of the console starts without them.
 */
export function Sessions() {
  return (
    <div className="sess-page">
      <Suspense fallback={<Loading what="the screen" />}>
        <Routes>
          <Route index element={<SessionLists />} />
          <Route path="connect" element={<ConnectPage />} />
          <Route path=":id/watch" element={<WatchPage />} />
          <Route path=":id" element={<ReplayPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
    </div>
  );
}

const ConnectPage = lazyScreen(() => import('./sessions/ConnectPage.tsx'), 'ConnectPage');
const WatchPage = lazyScreen(() => import('./sessions/WatchPage.tsx'), 'WatchPage');
const ReplayPage = lazyScreen(() => import('./sessions/ReplayPage.tsx'), 'ReplayPage');

/**
 * A screen loaded on first use. When its file cannot be fetched (a new version of the console
 * was installed since this page loaded, or the network failed), it says so instead of failing.
 */
function lazyScreen<K extends string>(
  load: () => Promise<Record<K, ComponentType>>,
  name: K,
): ComponentType {
  return lazy<ComponentType>(() =>
    load().then(
      (module) => ({ default: module[name] }),
      (error: unknown) => ({
        default: () => <ErrorNotice doing="load this screen: reload the page" error={error} />,
      }),
    ),
  );
}
