/** Says what is being loaded, to screen readers as well (role=status). */
export function Loading({ what }: { readonly what: string }) {
  return (
    <p className="state state-loading" role="status">
      <span className="spinner" aria-hidden="true" />
      Loading {what}…
    </p>
  );
}
