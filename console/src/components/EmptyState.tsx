import type { ReactNode } from 'react';

/** An empty list: says that nothing is there and, where it helps, what to do about it. */
export function EmptyState({ children }: { readonly children: ReactNode }) {
  return <p className="state state-empty">{children}</p>;
}
