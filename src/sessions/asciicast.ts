/**
 * asciicast v2, the text inside every recording: a header object on the first line, then one
 * `[seconds, code, data]` array per line. Resize data reads `COLSxROWS`.
 */
export type EventCode = 'o' | 'i' | 'r' | 'm';

export interface AsciicastEvent {
  /** Seconds since the recording started. */
  readonly time: number;
  readonly code: EventCode;
  readonly data: string;
}

export interface AsciicastHeader {
  readonly version: 2;
  readonly width: number;
  readonly height: number;
  /** Unix seconds when the session started. */
  readonly timestamp: number;
  readonly command?: string;
  readonly title?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface ScreenSize {
  readonly cols: number;
  readonly rows: number;
}

/** Terminals report sizes as 32-bit numbers; anything past this is not a screen. */
export const MAX_SCREEN_DIMENSION = 10_000;

const EVENT_CODES: ReadonlySet<string> = new Set(['o', 'i', 'r', 'm']);

export function isScreenDimension(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= MAX_SCREEN_DIMENSION;
}

export function headerLine(header: AsciicastHeader): string {
  // Built field by field, in the order the format lists them.
  const fields: Record<string, unknown> = {
    version: 2,
    width: header.width,
    height: header.height,
    timestamp: header.timestamp,
  };
  if (header.command !== undefined) fields.command = header.command;
  if (header.title !== undefined) fields.title = header.title;
  if (header.env !== undefined) fields.env = { ...header.env };
  return JSON.stringify(fields);
}

export function eventLine(event: AsciicastEvent): string {
  return JSON.stringify([event.time, event.code, event.data]);
}

/** Millisecond precision: finer timing shows nothing on replay and costs room on disk. */
export function eventTime(seconds: number): number {
  return Math.round(seconds * 1e3) / 1e3;
}

export function resizeData(size: ScreenSize): string {
  return `${size.cols}x${size.rows}`;
}

export function parseResizeData(data: string): ScreenSize | null {
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(data);
  if (match === null) return null;
  const cols = Number(match[1]);
  const rows = Number(match[2]);
  return isScreenDimension(cols) && isScreenDimension(rows) ? { cols, rows } : null;
}

/** Parses a header line; null when it is not an asciicast v2 header. */
export function parseHeaderLine(line: string): AsciicastHeader | null {
  const value = parseJson(line);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const fields = value as Record<string, unknown>;
  const { version, width, height, timestamp } = fields;
  if (version !== 2 || typeof width !== 'number' || typeof height !== 'number') return null;
  if (!isScreenDimension(width) || !isScreenDimension(height)) return null;
  const header: {
    -readonly [K in keyof AsciicastHeader]: AsciicastHeader[K];
  } = { version: 2, width, height, timestamp: typeof timestamp === 'number' ? timestamp : 0 };
  if (typeof fields.command === 'string') header.command = fields.command;
  if (typeof fields.title === 'string') header.title = fields.title;
  if (isStringRecord(fields.env)) header.env = fields.env;
  return header;
}

/** Parses an event line; null when it is not a `[number, code, string]` array. */
export function parseEventLine(line: string): AsciicastEvent | null {
  const value = parseJson(line);
  if (!Array.isArray(value) || value.length !== 3) return null;
  const [time, code, data] = value as unknown[];
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) return null;
  if (typeof code !== 'string' || !EVENT_CODES.has(code) || typeof data !== 'string') return null;
  return { time, code: code as EventCode, data };
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    // Not JSON is answered as "not an asciicast line"; the caller names the line.
    return undefined;
  }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((item) => typeof item === 'string');
}
