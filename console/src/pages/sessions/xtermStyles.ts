/**
 * xterm 6's DOM renderer styles the terminal (colours, font, cursor, selection, row height)
 * through <style> elements it adds inside the terminal. The console's Content-Security-Policy
 * (style-src 'self') refuses every inline <style>, so those rules never apply, and Chromium logs
 * one refusal each time xterm writes them. Constructed style sheets are CSSOM, which the policy
 * allows: this copies each of xterm's rule texts into one, adopted by the document, and keeps the
 * copy current when xterm rewrites them (a new font size, a resize). The text is xterm's own,
 * built from the options this console passes, never from the session's output.
 */
export function adoptXtermStyles(screen: HTMLElement): () => void {
  const copies = new Map<HTMLStyleElement, CSSStyleSheet>();
  const watched = new Map<HTMLStyleElement, MutationObserver>();

  const copy = (style: HTMLStyleElement) => {
    let sheet = copies.get(style);
    if (sheet === undefined) {
      sheet = new CSSStyleSheet();
      copies.set(style, sheet);
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    }
    sheet.replaceSync(style.textContent ?? '');
  };

  const scan = () => {
    for (const style of screen.querySelectorAll<HTMLStyleElement>(':scope > style')) {
      if (watched.has(style)) continue;
      const observer = new MutationObserver(() => copy(style));
      observer.observe(style, { childList: true, characterData: true, subtree: true });
      watched.set(style, observer);
      copy(style);
    }
  };

  // Only the screen's own children: the rows below it change with every frame drawn.
  const added = new MutationObserver(scan);
  added.observe(screen, { childList: true });
  scan();

  return () => {
    added.disconnect();
    for (const observer of watched.values()) observer.disconnect();
    const mine = new Set(copies.values());
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => !mine.has(s));
  };
}
