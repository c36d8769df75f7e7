import type { ReactNode } from 'react';
import type { Resource } from '../useResource.ts';
import { ErrorNotice } from './ErrorNotice.tsx';
import { Loading } from './Loading.tsx';

/** Shows a resource's loading and error states, and its data once it has arrived. */
export function ResourceView<T>({
  resource,
  what,
  children,
}: {
  readonly resource: Resource<T> & { reload(): void };
  /** What is loaded, as a sentence names it: "your check-outs". */
  readonly what: string;
  readonly children: (data: T) => ReactNode;
}) {
  switch (resource.status) {
    case 'loading':
      return <Loading what={what} />;
    case 'error':
      return <ErrorNotice doing={`load ${what}`} error={resource.error} retry={resource.reload} />;
    case 'ready':
      return children(resource.data);
  }
}
