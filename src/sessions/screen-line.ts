/**
 * The terminal line the cursor is on, rebuilt from output: enough of a terminal to read what a
 * shell echoed at its prompt. A logical line spans the rows it wraps over at the screen width;
 * it is committed (handed out) at a line feed. Escape sequences are applied when they edit the
 * line (erase, delete, insert, cursor moves) and dropped otherwise. Full-screen programs on the
 * alternate screen commit nothing.
 */
export interface ScreenLine {
  write(text: string): void;
  setWidth(cols: number): void;
  /** The whole line, trailing blanks removed. */
  text(): string;
  /** The line left of the cursor, blanks kept: the prompt, when read before the user types. */
  textBeforeCursor(): string;
  readonly alternateScreen: boolean;
}

export interface ScreenLineOptions {
  readonly width: number;
  readonly onCommit: (text: string) => void;
  readonly onAlternateScreen?: (active: boolean) => void;
  /**
   * False while no committed line is wanted: plain lines ended by CR LF are then passed over
   * without being drawn, since only the line under the cursor matters (the prompt).
   */
  readonly linesWanted?: () => boolean;
}

/** A line longer than this (no line feed for pages) stops growing; no prompt is that long. */
const MAX_CELLS = 16_384;
const MAX_SEQUENCE = 256;
const ALTERNATE_SCREEN_MODES: ReadonlySet<string> = new Set(['1049', '1047', '47']);

type ParseState = 'ground' | 'escape' | 'csi' | 'string' | 'charset';

export function createScreenLine(options: ScreenLineOptions): ScreenLine {
  let width = sanitizeWidth(options.width);
  let cells: string[] = [];
  let pos = 0;
  let wrapPending = false;
  let saved = 0;
  let alternate = false;
  let mainScreen: { cells: string[]; pos: number } | null = null;
  let state: ParseState = 'ground';
  let sequence = '';
  let stringEscape = false;

  const col = (at: number): number => (Number.isFinite(width) ? at % width : at);
  const cursor = (): number => (wrapPending ? pos - 1 : pos);
  const rowStart = (at: number): number => at - col(at);
  const rowEnd = (at: number): number =>
    Number.isFinite(width) ? rowStart(at) + width : MAX_CELLS;
  const moveTo = (at: number): void => {
    pos = Math.max(0, Math.min(at, MAX_CELLS));
    wrapPending = false;
  };

  const setCell = (at: number, value: string): void => {
    if (at >= MAX_CELLS) return;
    while (cells.length < at) cells.push(' ');
    cells[at] = value;
  };

  const blank = (from: number, to: number): void => {
    for (let at = from; at < Math.min(to, cells.length); at++) cells[at] = ' ';
    while (cells.length > 0 && cells.at(-1) === ' ') cells.pop();
  };

  const print = (char: string): void => {
    const cellWidth = charWidth(char);
    if (cellWidth === 0) {
      if (pos > 0 && cells[pos - 1] !== undefined) cells[pos - 1] += char;
      return;
    }
    wrapPending = false;
    if (cellWidth === 2 && Number.isFinite(width) && col(pos) === width - 1) {
      setCell(pos, ''); // a wide character never splits: the last column stays empty
      pos += 1;
    }
    setCell(pos, char);
    if (cellWidth === 2) setCell(pos + 1, '');
    pos = Math.min(pos + cellWidth, MAX_CELLS);
    if (Number.isFinite(width) && col(pos) === 0) wrapPending = true;
  };

  const commit = (): void => {
    const text = cells.join('').trimEnd();
    const column = col(cursor());
    if (!alternate) options.onCommit(text);
    cells = [];
    moveTo(column);
  };

  const control = (char: string): void => {
    switch (char) {
      case '\r':
        moveTo(rowStart(cursor()));
        break;
      case '\n':
      case '\v':
      case '\f':
        commit();
        break;
      case '\b': {
        const at = cursor();
        moveTo(at > rowStart(at) ? at - 1 : at);
        break;
      }
      case '\t': {
        const at = cursor();
        moveTo(Math.min(at + 8 - (col(at) % 8), rowEnd(at) - 1));
        break;
      }
    }
  };

  const setAlternate = (active: boolean): void => {
    if (active === alternate) return;
    if (active) mainScreen = { cells, pos };
    else if (mainScreen !== null) {
      cells = mainScreen.cells;
      pos = mainScreen.pos;
    }
    if (active) cells = [];
    wrapPending = false;
    alternate = active;
    options.onAlternateScreen?.(active);
  };

  const csi = (body: string): void => {
    const final = body.at(-1) ?? '';
    const params = body.slice(0, -1);
    const n = Math.max(1, Number.parseInt(params, 10) || 1);
    const at = cursor();
    switch (final) {
      case 'C':
        moveTo(Math.min(at + n, rowEnd(at) - 1));
        break;
      case 'D':
        moveTo(Math.max(rowStart(at), at - n));
        break;
      case 'G':
        moveTo(rowStart(at) + Math.min(n - 1, rowEnd(at) - rowStart(at) - 1));
        break;
      case 'A':
        moveTo(Number.isFinite(width) && at - n * width >= 0 ? at - n * width : col(at));
        break;
      case 'B':
        moveTo(Number.isFinite(width) ? at + n * width : at);
        break;
      case 'K':
        eraseInLine(params, at);
        break;
      case 'J':
        eraseInDisplay(params, at);
        break;
      case 'P':
        cells.splice(at, n);
        moveTo(at);
        break;
      case '@':
        if (at < cells.length) cells.splice(at, 0, ...Array<string>(n).fill(' '));
        moveTo(at);
        break;
      case 'X':
        blank(at, at + n);
        moveTo(at);
        break;
      case 'H':
      case 'f': {
        // An absolute position leaves the line we follow; start over at that column.
        const column = Number.parseInt(params.split(';')[1] ?? '', 10) || 1;
        cells = [];
        moveTo(column - 1);
        break;
      }
      case 's':
        saved = at;
        break;
      case 'u':
        moveTo(saved);
        break;
      case 'h':
      case 'l':
        if (params.startsWith('?') && params.slice(1).split(';').some(isAlternateMode)) {
          setAlternate(final === 'h');
        }
        break;
    }
  };

  const eraseInLine = (mode: string, at: number): void => {
    if (mode === '' || mode === '0') blank(at, rowEnd(at));
    else if (mode === '1') blank(rowStart(at), at + 1);
    else if (mode === '2') blank(rowStart(at), rowEnd(at));
    moveTo(at);
  };

  const eraseInDisplay = (mode: string, at: number): void => {
    if (mode === '' || mode === '0') blank(at, cells.length);
    else if (mode === '1') blank(0, at + 1);
    else cells = [];
    moveTo(at);
  };

  const escapeChar = (char: string): void => {
    state = 'ground';
    if (char === '[') {
      state = 'csi';
      sequence = '';
    } else if (char === ']' || char === 'P' || char === 'X' || char === '^' || char === '_') {
      state = 'string';
      stringEscape = false;
    } else if ('()*+-./'.includes(char)) {
      state = 'charset';
    } else if (char === '7') {
      saved = cursor();
    } else if (char === '8') {
      moveTo(saved);
    } else if (char === 'D' || char === 'E') {
      commit();
    } else if (char === 'c') {
      cells = [];
      moveTo(0);
    }
  };

  const step = (char: string): void => {
    switch (state) {
      case 'escape':
        escapeChar(char);
        return;
      case 'csi':
        sequence += char;
        if (/[\x40-\x7e]/.test(char) || sequence.length > MAX_SEQUENCE) {
          state = 'ground';
          csi(sequence);
        }
        return;
      case 'string':
        // OSC and friends end at BEL or ESC \; their content (titles, links) is not on the line.
        if (char === '\x07' || (stringEscape && char === '\\')) state = 'ground';
        stringEscape = char === '\x1b';
        return;
      case 'charset':
        state = 'ground';
        return;
      default:
        if (char === '\x1b') state = 'escape';
        else if (char < ' ' || char === '\x7f' || isC1(char)) control(char);
        else print(char);
    }
  };

  /**
   * A CR LF leaves an empty line at column 0 whatever came before it on the line. Up to the last
   * one with no escape sequence before it, nothing but committed lines changes: no mode, no saved
   * cursor, no screen switch. Flooding output is mostly that.
   */
  const passOver = (text: string): string => {
    if (state !== 'ground' || options.linesWanted?.() !== false) return text;
    const firstEscape = text.indexOf('\x1b');
    const lineEnd = text.lastIndexOf(
      '\r\n',
      firstEscape === -1 ? Number.POSITIVE_INFINITY : firstEscape - 2,
    );
    if (lineEnd === -1) return text;
    cells = [];
    moveTo(0);
    return text.slice(lineEnd + 2);
  };

  return {
    write(text) {
      for (const char of passOver(text)) step(char);
    },
    setWidth(cols) {
      width = sanitizeWidth(cols);
    },
    text: () => cells.join('').trimEnd(),
    textBeforeCursor() {
      const before = cells.slice(0, cursor());
      while (before.length < cursor()) before.push(' ');
      return before.join('');
    },
    get alternateScreen() {
      return alternate;
    },
  };
}

function sanitizeWidth(cols: number): number {
  return Number.isInteger(cols) && cols > 0 ? cols : Number.POSITIVE_INFINITY;
}

function isAlternateMode(mode: string): boolean {
  return ALTERNATE_SCREEN_MODES.has(mode);
}

function isC1(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  return code >= 0x80 && code <= 0x9f;
}

const COMBINING = /^\p{M}$/u;
const ZERO_WIDTH: readonly (readonly [number, number])[] = [
  [0x200b, 0x200f],
  [0xfe00, 0xfe0f],
];
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x20000, 0x3fffd],
];

/** Cells a character takes on a terminal: 0 for combining marks, 2 for East Asian wide. */
export function charWidth(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  // Printable ASCII, nearly all output, is one cell: no table to search (bench/gateway.ts).
  if (code >= 0x20 && code < 0x7f) return 1;
  const within = ([from, to]: readonly [number, number]) => code >= from && code <= to;
  if (COMBINING.test(char) || ZERO_WIDTH.some(within)) return 0;
  return WIDE.some(within) ? 2 : 1;
}
