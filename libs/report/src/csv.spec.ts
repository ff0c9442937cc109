import { parse } from 'csv-parse/sync';
import { csvCell, csvCellText, toCsv } from './csv';

describe('toCsv', () => {
  it('writes a header, LF line ends and RFC 4180 quoting', () => {
    const csv = toCsv(['id', 'text', 'n', 'ok', 'none'], [
      ['a,b', 'say "hi"', 1.5, true, null],
      ['multi\nline', 'cr\rhere', -2, false, null],
      ['名前', '', 0, true, 'x'],
    ]);
    expect(csv).toBe(
      'id,text,n,ok,none\n' +
        '"a,b","say ""hi""",1.5,true,\n' +
        '"multi\nline","cr\rhere",-2,false,\n' +
        '名前,,0,true,x\n',
    );
    expect(parse(csv, { columns: true })).toEqual([
      { id: 'a,b', text: 'say "hi"', n: '1.5', ok: 'true', none: '' },
      { id: 'multi\nline', text: 'cr\rhere', n: '-2', ok: 'false', none: '' },
      { id: '名前', text: '', n: '0', ok: 'true', none: 'x' },
    ]);
  });

  it('neutralises formula-like strings but never numbers', () => {
    expect(csvCell('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-5')).toBe("'-5");
    expect(csvCell('@cmd')).toBe("'@cmd");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('\rx')).toBe('"\'\rx"');
    expect(csvCell('=a,"b"')).toBe('"\'=a,""b"""');
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(-0.25)).toBe('-0.25');
    expect(csvCell('a=b')).toBe('a=b');
    // Not a formula (it starts with a space), and quoted so a reader keeps the space.
    expect(csvCell(' =x')).toBe('" =x"');
  });

  it('rejects rows that do not match the header', () => {
    expect(() => toCsv(['a', 'b'], [['x']])).toThrow(/1 cells, header has 2/);
  });
});

describe('csvCellText', () => {
  it('undoes the formula neutralisation of csvCell', () => {
    for (const text of ['=cmd', '-5', '+1', '@x', '\tx', 'plain', "it's", '', "'quoted"]) expect(csvCellText(csvCell(text))).toBe(text);
  });
});
