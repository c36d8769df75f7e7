/**
 * Replays the keys a user typed at a line-editing prompt (readline, zsh's line editor, a
 * terminal's cooked mode) to learn the line they submitted. Keys whose effect depends on state
 * the input does not show (history, completion, yank, word moves) make the line `certain: false`;
 * the caller then reads the line off the screen instead.
 */
export type LineEffect =
  /** The first key of a new line: the prompt is on screen now. */
  | { readonly kind: 'start' }
  | { readonly kind: 'submit'; readonly text: string; readonly certain: boolean }
  /** Ctrl-C, or Ctrl-D on an empty line: nothing was submitted. */
  | { readonly kind: 'abandon' };

export interface LineEditor {
  feed(keys: string, emit: (effect: LineEffect) => void): void;
  /** Forgets the line being typed (a full-screen program took the keyboard). */
  reset(): void;
}

const MAX_LINE_CHARS = 16_384;
const MAX_SEQUENCE = 32;

type ParseState = 'ground' | 'escape' | 'csi' | 'ss3';

export function createLineEditor(): LineEditor {
  let chars: string[] = [];
  let cursor = 0;
  let certain = true;
  let active = false;
  let paste = false;
  let afterCR = false;
  let state: ParseState = 'ground';
  let sequence = '';
  let emit: (effect: LineEffect) => void = () => undefined;

  const begin = (): void => {
    if (active) return;
    active = true;
    emit({ kind: 'start' });
  };

  const clear = (): void => {
    chars = [];
    cursor = 0;
    certain = true;
    active = false;
  };

  const submit = (): void => {
    begin();
    emit({ kind: 'submit', text: chars.join(''), certain });
    clear();
  };

  const abandon = (): void => {
    if (active) emit({ kind: 'abandon' });
    clear();
  };

  const insert = (char: string): void => {
    begin();
    if (chars.length >= MAX_LINE_CHARS) {
      certain = false;
      return;
    }
    chars.splice(cursor, 0, char);
    cursor += 1;
  };

  const edit = (change: () => void): void => {
    begin();
    change();
  };

  const backspace = (): void => {
    if (cursor === 0) return;
    cursor -= 1;
    chars.splice(cursor, 1);
  };

  const eraseToStart = (): void => {
    chars.splice(0, cursor);
    cursor = 0;
  };

  const wordRubout = (): void => {
    let at = cursor;
    while (at > 0 && /\s/.test(chars[at - 1] ?? '')) at -= 1;
    while (at > 0 && !/\s/.test(chars[at - 1] ?? '')) at -= 1;
    chars.splice(at, cursor - at);
    cursor = at;
  };

  const unknown = (): void => edit(() => (certain = false));

  const moveRight = (): void =>
    edit(() => {
      // At the end of the line some shells take a suggestion with this key; we cannot see it.
      if (cursor === chars.length) certain = false;
      cursor = Math.min(chars.length, cursor + 1);
    });

  const left = (): void => edit(() => (cursor = Math.max(0, cursor - 1)));
  const home = (): void => edit(() => (cursor = 0));
  const end = (): void => edit(() => (cursor = chars.length));
  const deleteUnder = (): void => edit(() => chars.splice(cursor, 1));

  const controlKeys: Readonly<Record<string, () => void>> = {
    '\r': submit,
    '\n': submit,
    '\x7f': () => edit(backspace),
    '\b': () => edit(backspace),
    // Ctrl-U erases back to the line's start, Ctrl-W the word before the cursor, Ctrl-K to the end.
    '\x15': () => edit(eraseToStart),
    '\x17': () => edit(wordRubout),
    '\x0b': () => edit(() => chars.splice(cursor)),
    '\x03': abandon,
    // Ctrl-D ends input on an empty line, else deletes under the cursor.
    '\x04': () => (chars.length === 0 ? abandon() : deleteUnder()),
    '\x01': home,
    '\x05': end,
    '\x02': left,
    '\x06': moveRight,
    // Ctrl-L redraws, Ctrl-Z and Ctrl-\ signal: the line stays as it is.
    '\x0c': () => undefined,
    '\x1a': () => undefined,
    '\x1c': () => undefined,
  };

  /** Up and down (history), modified arrows (word moves), insert and the rest are unknown. */
  const csiKeys: Readonly<Record<string, () => void>> = {
    C: moveRight,
    D: left,
    H: home,
    '1~': home,
    '7~': home,
    F: end,
    '4~': end,
    '8~': end,
    '3~': deleteUnder,
    '200~': () => (paste = true),
    '201~': () => (paste = false),
  };

  const ss3Keys: Readonly<Record<string, () => void>> = { C: moveRight, D: left, H: home, F: end };

  // Tab, history (Ctrl-P/N/R/S), yank, transpose, quoted insert, undo: the line is unknown.
  const controlKey = (char: string): void => (controlKeys[char] ?? unknown)();
  const csiKey = (body: string): void => (csiKeys[body] ?? unknown)();
  const ss3Key = (char: string): void => (ss3Keys[char] ?? unknown)();

  const step = (char: string): void => {
    switch (state) {
      case 'escape':
        state = 'ground';
        if (char === '[') {
          state = 'csi';
          sequence = '';
        } else if (char === 'O') state = 'ss3';
        else unknown(); // Alt with a key: word moves and edits we do not follow
        return;
      case 'csi':
        sequence += char;
        if (/[\x40-\x7e]/.test(char) || sequence.length > MAX_SEQUENCE) {
          state = 'ground';
          csiKey(sequence);
        }
        return;
      case 'ss3':
        state = 'ground';
        ss3Key(char);
        return;
      default:
        ground(char);
    }
  };

  const ground = (char: string): void => {
    const crlf = afterCR && char === '\n';
    afterCR = char === '\r';
    if (crlf) return; // CR LF is one Enter
    if (char === '\x1b') {
      state = 'escape';
    } else if (paste && char !== '\r' && char !== '\n') {
      insert(char);
    } else if (char < ' ' || char === '\x7f') {
      controlKey(char);
    } else {
      insert(char);
    }
  };

  return {
    feed(keys, emitTo) {
      emit = emitTo;
      for (const char of keys) step(char);
    },
    reset() {
      clear();
      paste = false;
      state = 'ground';
    },
  };
}
