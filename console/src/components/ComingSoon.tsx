import type { ReactNode } from 'react';
import { usePageTitle } from '../usePageTitle.ts';

/**
 * A screen that another change will build. It says so, and what to use meanwhile, rather than
 * showing an empty page.
 */
export function ComingSoon({
  title,
  children,
}: {
  readonly title: string;
  readonly children: ReactNode;
}) {
  usePageTitle(title);
  return (
    <>
      <h1 tabIndex={-1}>{title}</h1>
      <div className="panel">
        <p>
          <strong>This screen is coming.</strong> {children}
        </p>
      </div>
    </>
  );
}
