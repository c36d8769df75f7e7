/**
 * A ref callback that moves focus to a notice when it appears, for example where an answered
 * card was. It is one stable function: React calls it only when the element mounts, not at
 * every render of a screen that re-renders each second.
 */
export function focusOnMount(element: HTMLElement | null): void {
  element?.focus();
}
