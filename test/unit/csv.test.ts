import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CsvError, formatCsv, parseCsv } from '../../src/cli/csv.ts';

const fieldsOf = (text: string) => parseCsv(text).map((r) => r.fields);

describe('CSV reader', () => {
  it('reads a header and rows, with CRLF or LF line ends', () => {
    const expected = [
      ['target', 'username'],
      ['db1', 'app'],
    ];
    assert.deepEqual(fieldsOf('target,username\r\ndb1,app\r\n'), expected);
    assert.deepEqual(fieldsOf('target,username\ndb1,app\n'), expected);
    assert.deepEqual(fieldsOf('target,username\ndb1,app'), expected, 'no line end at the end');
  });

  it('drops a byte order mark, so the first column keeps its name', () => {
    assert.deepEqual(fieldsOf('\ufefftarget,username\r\n'), [['target', 'username']]);
  });

  it('keeps commas, quotes and line breaks inside quoted fields, and counts their lines', () => {
    const text = 'a,b\r\n"x,y","say ""hi"""\r\n"two\r\nlines",z\r\nlast,"\n"\r\n';
    const records = parseCsv(text);
    assert.deepEqual(
      records.map((r) => r.fields),
      [
        ['a', 'b'],
        ['x,y', 'say "hi"'],
        ['two\r\nlines', 'z'],
        ['last', '\n'],
      ],
    );
    assert.deepEqual(
      records.map((r) => r.line),
      [1, 2, 3, 5],
    );
  });

  it('keeps empty fields and surrounding spaces as they are', () => {
    assert.deepEqual(fieldsOf('a,,c\r\n, b ,""\r\n'), [
      ['a', '', 'c'],
      ['', ' b ', ''],
    ]);
  });

  it('reads an empty file as no records', () => {
    assert.deepEqual(parseCsv(''), []);
    assert.deepEqual(parseCsv('\ufeff'), []);
  });

  const BAD: ReadonlyArray<readonly [string, string, number]> = [
    ['a,b\r\n"open,c\r\n', 'a quoted field is never closed', 2],
    ['a,b\r\nx"y,c\r\n', 'a quote inside a field', 2],
    ['a,b\r\n"x"y,c\r\n', 'text after the closing quote', 2],
    ['a,b\r\n"x" ,c\r\n', 'text after the closing quote', 2],
    ['a,b\rc,d\r\n', 'a carriage return without a line feed', 1],
    ['a,"multi\nline"\nx"\n', 'a quote inside a field', 3],
  ];
  for (const [text, message, line] of BAD) {
    it(`refuses ${JSON.stringify(text)}: ${message}, line ${line}`, () => {
      assert.throws(
        () => parseCsv(text),
        (error: unknown) =>
          error instanceof CsvError && error.line === line && error.message.includes(message),
      );
    });
  }
});

describe('CSV writer', () => {
  it('quotes only the fields that need it, with CRLF line ends', () => {
    const text = formatCsv([
      ['target', 'username', 'reasons'],
      ['db1', 'app', 'SUPERUSER; CREATEROLE'],
      ['db1', 'we"ird, name', 'two\nlines'],
      ['db1', ' spaced ', ''],
    ]);
    assert.equal(
      text,
      'target,username,reasons\r\n' +
        'db1,app,SUPERUSER; CREATEROLE\r\n' +
        'db1,"we""ird, name","two\nlines"\r\n' +
        'db1," spaced ",\r\n',
    );
  });

  it('reads back exactly what it wrote', () => {
    const rows = [
      ['a', 'b', 'c'],
      ['"', ',', '\r\n'],
      ['é ж', ' x', '=1+1'],
    ];
    assert.deepEqual(fieldsOf(formatCsv(rows)), rows);
  });
});
