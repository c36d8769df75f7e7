import { useEffect } from 'react';

/** Names the page in the tab and for screen readers announcing the new page. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Tessera`;
  }, [title]);
}
