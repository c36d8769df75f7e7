import type { ReactNode } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import type { LiveResource } from './useLiveResource.ts';

/**
 * A live resource's loading and error states, or its data; when a refresh failed, the last data
 * stays with a line saying it may be out of date.
 */
export function LiveView<T>({
  resource,
  what,
  children,
}: {
  readonly resource: LiveResource<T> & { reload(): void };
  /** What is loaded, as a sentence names it: "your requests". */
  readonly what: string;
  readonly children: (data: T) => ReactNode;
}) {
  switch (resource.status) {
    case 'loading':
      return <Loading what={what} />;
    case 'error':
      return <ErrorNotice doing={`load ${what}`} error={resource.error} retry={resource.reload} />;
    case 'ready':
      return (
        <>
          {resource.refreshError !== null && (
            <ErrorNotice
              doing={`refresh ${what}: what follows may be out of date`}
              error={resource.refreshError}
              retry={resource.reload}
            />
          )}
          {children(resource.data)}
        </>
      );
  }
}
