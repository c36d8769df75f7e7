/**
 * CSV as RFC 4180 writes it: fields separated by commas, records by line breaks, a field in
 * double quotes when it holds a comma, a quote or a line break, a quote inside doubled. The
 * reader is strict, because a file it guessed wrong about would onboard the wrong accounts:
 * a stray quote, an unterminated field or a lone carriage return is an error naming its line.
 * It also takes what spreadsheets write besides: a byte order mark, and LF instead of CRLF.
 */

export interface CsvRecord {
  /** The line of the file the record starts on, from 1; a quoted line break moves the next. */
  readonly line: number;
  readonly fields: readonly string[];
}

export class CsvError extends Error {
  readonly line: number;

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
    this.line = line;
  }
}

const BOM = '\ufeff';

/** Reads every record of `text`. A line break at the very end ends the last record. */
export function parseCsv(text: string): CsvRecord[] {
  const reader = createReader(text.startsWith(BOM) ? text.slice(BOM.length) : text);
  const records: CsvRecord[] = [];
  while (!reader.done()) records.push(reader.record());
  return records;
}

function createReader(text: string) {
  let at = 0;
  let line = 1;

  /** Consumes a line break at `at`, if there is one; a CR must be followed by LF. */
  const lineBreak = (): boolean => {
    if (text[at] === '\n') {
      at += 1;
      line += 1;
      return true;
    }
    if (text[at] !== '\r') return false;
    if (text[at + 1] !== '\n') throw new CsvError(line, 'a carriage return without a line feed');
    at += 2;
    line += 1;
    return true;
  };

  const quoted = (): string => {
    const startLine = line;
    let value = '';
    at += 1; // the opening quote
    for (;;) {
      const next = text.indexOf('"', at);
      if (next === -1) throw new CsvError(startLine, 'a quoted field is never closed');
      value += countLines(text.slice(at, next));
      at = next + 1;
      if (text[at] !== '"') return value;
      value += '"';
      at += 1;
    }
  };

  const countLines = (chunk: string): string => {
    for (const char of chunk) if (char === '\n') line += 1;
    return chunk;
  };

  const unquoted = (): string => {
    const start = at;
    while (at < text.length && !',\r\n'.includes(text[at] ?? '')) {
      if (text[at] === '"') {
        throw new CsvError(line, 'a quote inside a field that does not start with one');
      }
      at += 1;
    }
    return text.slice(start, at);
  };

  const field = (): string => {
    if (text[at] !== '"') return unquoted();
    const value = quoted();
    if (at < text.length && !',\r\n'.includes(text[at] ?? '')) {
      throw new CsvError(line, 'text after the closing quote of a field');
    }
    return value;
  };

  return {
    done: () => at >= text.length,
    record(): CsvRecord {
      const startLine = line;
      const fields = [field()];
      while (text[at] === ',') {
        at += 1;
        fields.push(field());
      }
      if (at < text.length && !lineBreak()) {
        throw new CsvError(line, 'unexpected character');
      }
      return { line: startLine, fields };
    },
  };
}

/** One record per row, CRLF after each, fields quoted only where they must be. */
export function formatCsv(rows: ReadonlyArray<readonly string[]>): string {
  return rows.map((row) => `${row.map(formatField).join(',')}\r\n`).join('');
}

function formatField(value: string): string {
  // Surrounding spaces are data too; quoting them keeps tools that trim from losing them.
  const needsQuotes = /[",\r\n]/.test(value) || value.trim() !== value;
  return needsQuotes ? `"${value.replaceAll('"', '""')}"` : value;
}
