import { parseTableQuery, QueryError, queryTable, rowHasStatus } from './table-query';

const table = {
  columns: ['entity_id', 'normalized_mae', 'parse_failures', 'inference_failures', 'outliers'],
  rows: [
    ['e3', '0.9', '0', '0', '2'],
    ['e1', '0.5', '1', '0', '0'],
    ['e2', '', '0', '3', '0'],
    ['e10', '0.05', '0', '0', '0'],
  ],
};

describe('parseTableQuery', () => {
  it('given no parameters, then the file order, first page of 100', () => {
    expect(parseTableQuery({})).toEqual({ sort: null, desc: false, status: null, q: '', page: 1, size: 100 });
  });
  it('given bad values, then a QueryError naming the parameter and the value', () => {
    expect(() => parseTableQuery({ status: 'weird' })).toThrow(QueryError);
    expect(() => parseTableQuery({ status: 'weird' })).toThrow(/'status' must be one of parse_failure, outlier, inference_failure, got "weird"/);
    expect(() => parseTableQuery({ page: '0' })).toThrow(/'page' must be a whole number/);
    expect(() => parseTableQuery({ size: '100000' })).toThrow(/'size' must be a whole number from 1 to 500/);
    expect(() => parseTableQuery({ q: ['a', 'b'] })).toThrow(/'q' must be given once/);
    expect(() => parseTableQuery({ desc: 'yes' })).toThrow(/'desc' must be 0 or 1/);
  });
});

describe('queryTable', () => {
  const q = (over: Record<string, string>) => parseTableQuery(over);
  it('given no sort, then rows keep the file order (worst first) with their rank', () => {
    expect(queryTable(table, q({})).rows.map((r) => [r.index, r.cells[0]])).toEqual([[0, 'e3'], [1, 'e1'], [2, 'e2'], [3, 'e10']]);
  });
  it('given a numeric column, then it sorts by value, empty cells last in both directions', () => {
    expect(queryTable(table, q({ sort: 'normalized_mae' })).rows.map((r) => r.cells[0])).toEqual(['e10', 'e1', 'e3', 'e2']);
    expect(queryTable(table, q({ sort: 'normalized_mae', desc: '1' })).rows.map((r) => r.cells[0])).toEqual(['e3', 'e1', 'e10', 'e2']);
    expect(queryTable(table, q({ sort: 'entity_id' })).rows.map((r) => r.cells[0])).toEqual(['e1', 'e10', 'e2', 'e3']);
  });
  it('given a status filter, then summary rows match by their counts', () => {
    expect(queryTable(table, q({ status: 'outlier' })).rows.map((r) => r.cells[0])).toEqual(['e3']);
    expect(queryTable(table, q({ status: 'parse_failure' })).rows.map((r) => r.cells[0])).toEqual(['e1']);
    const t = queryTable(table, q({ status: 'inference_failure' }));
    expect([t.matched, t.total, t.rows[0].cells[0]]).toEqual([1, 4, 'e2']);
  });
  it('given prediction rows, then the status comes from parse_status and outlier', () => {
    const columns = ['item', 'parse_status', 'outlier'];
    expect(rowHasStatus(columns, ['q1', 'parse_failure', 'false'], 'parse_failure')).toBe(true);
    expect(rowHasStatus(columns, ['q1', 'ok', 'true'], 'outlier')).toBe(true);
    expect(rowHasStatus(columns, ['q1', 'ok', 'false'], 'inference_failure')).toBe(false);
  });
  it('given a page size, then one page of rows and the page count; a page past the end shows the last', () => {
    const t = queryTable(table, q({ size: '3', page: '2' }));
    expect([t.rows.map((r) => r.cells[0]), t.page, t.pages]).toEqual([['e10'], 2, 2]);
    expect(queryTable(table, q({ size: '3', page: '9' })).page).toBe(2);
  });
  it('given text and a row filter, then both apply; the total counts the filtered rows', () => {
    const t = queryTable(table, q({ q: 'E1' }), (cells) => cells[0] !== 'e10');
    expect([t.rows.map((r) => r.cells[0]), t.total]).toEqual([['e1'], 3]);
  });
  it('given an unknown sort column, then a QueryError listing the columns', () => {
    expect(() => queryTable(table, q({ sort: 'nope' }))).toThrow(/cannot sort by 'nope': the columns are entity_id, normalized_mae/);
  });
});
