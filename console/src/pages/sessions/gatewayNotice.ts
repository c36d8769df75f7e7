/** What the gateway prints to the user before it ends a session: `\r\ntessera: <why>\r\n`. */
const NOTICE = /tessera: ([^\r\n]+)/g;
/** A notice ends before any escape sequence (colour, cursor) the shell adds after it. */
const ESC = String.fromCharCode(27);
/** Output kept to look for the notice in. */
const KEPT_CHARS = 4096;
/** A notice followed by more output than this was not about the end (a refused forwarding). */
const AFTER_CHARS = 256;

/**
 * Follows a terminal's output for the gateway's last notice, so the page can say why the
 * session ended in the gateway's own words. A notice split across two chunks is read whole.
 */
export function createNoticeReader(): {
  feed(chunk: Uint8Array): void;
  /** The last notice, if no more than a little output came after it. */
  last(): string | null;
} {
  const decoder = new TextDecoder();
  let tail = '';

  return {
    feed(chunk) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-KEPT_CHARS);
    },
    last() {
      const found = [...tail.matchAll(NOTICE)].at(-1);
      if (found?.[1] === undefined) return null;
      const after = tail.length - (found.index + found[0].length);
      if (after > AFTER_CHARS) return null;
      return found[1].split(ESC, 1)[0]?.trim() || null;
    },
  };
}
