import { compareCodeUnits } from '@assay/contracts';
import type { TextTable } from '@assay/report';

/**
 * Sorting, filtering and paging of a run-directory table, on the server: a page never carries more
 * than one page of rows, however large the run. Rows keep the file's order (worst first) unless a
 * column is chosen; ties keep it too.
 */

export const STATUS_FILTERS = ['parse_failure', 'outlier', 'inference_failure'] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number];

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

export interface TableQuery {
  /** A column name, or null for the file's order. */
  sort: string | null;
  desc: boolean;
  status: StatusFilter | null;
  /** Case-insensitive text every shown row must contain in one of its cells; '' for none. */
  q: string;
  /** 1-based. */
  page: number;
  size: number;
}

export class QueryError extends Error {
  override name = 'QueryError';
}

export function single(query: Record<string, unknown>, key: string): string | undefined {
  const v = query[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new QueryError(`query parameter '${key}' must be given once, as text`);
  return v;
}

/** A whole number from 1 to max, `fallback` when absent; a QueryError naming the parameter otherwise. */
export function positiveInt(raw: string | undefined, key: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new QueryError(`query parameter '${key}' must be a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Reads ?sort=&desc=1&status=&q=&page=&size= with a clear error for a bad value. */
export function parseTableQuery(query: Record<string, unknown>): TableQuery {
  const status = single(query, 'status');
  if (status !== undefined && status !== '' && !(STATUS_FILTERS as readonly string[]).includes(status)) {
    throw new QueryError(`query parameter 'status' must be one of ${STATUS_FILTERS.join(', ')}, got ${JSON.stringify(status)}`);
  }
  const desc = single(query, 'desc');
  if (desc !== undefined && desc !== '' && desc !== '0' && desc !== '1') throw new QueryError(`query parameter 'desc' must be 0 or 1, got ${JSON.stringify(desc)}`);
  const sort = single(query, 'sort');
  return {
    sort: sort === undefined || sort === '' ? null : sort,
    desc: desc === '1',
    status: status === undefined || status === '' ? null : (status as StatusFilter),
    q: single(query, 'q') ?? '',
    page: positiveInt(single(query, 'page'), 'page', 1),
    size: positiveInt(single(query, 'size'), 'size', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
  };
}

/**
 * Whether a row shows a status: prediction tables by their parse_status / outlier cells, summary
 * tables (groups, entities) by their counts.
 */
export function rowHasStatus(columns: readonly string[], row: readonly string[], status: StatusFilter): boolean {
  const cell = (name: string) => {
    const i = columns.indexOf(name);
    return i < 0 ? undefined : row[i];
  };
  const count = (name: string) => Number(cell(name) ?? '0') > 0;
  if (status === 'outlier') return cell('outlier') === 'true' || count('outliers');
  if (status === 'parse_failure') return cell('parse_status') === 'parse_failure' || count('parse_failures');
  return cell('parse_status') === 'inference_failure' || count('inference_failures');
}

const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** Numbers by value, text by code unit, empty cells (n/a) last whatever the direction. */
function compareCells(a: string, b: string, desc: boolean): number {
  if (a === '' || b === '') return a === b ? 0 : a === '' ? 1 : -1;
  const order = NUMBER.test(a) && NUMBER.test(b) ? Number(a) - Number(b) : compareCodeUnits(a, b);
  return desc ? -order : order;
}

export interface QueriedRow {
  /** Position in the file (0-based): the worst-first rank of summary tables. */
  index: number;
  cells: string[];
}

export interface TablePage {
  columns: string[];
  rows: QueriedRow[];
  /** Rows in the file, and rows left after the filters. */
  total: number;
  matched: number;
  page: number;
  pages: number;
  query: TableQuery;
}

/** One page of the table under the query; `where` keeps only some rows (e.g. one entity's) before the rest. */
export function queryTable(table: TextTable, query: TableQuery, where?: (row: readonly string[]) => boolean): TablePage {
  const sortAt = query.sort === null ? -1 : table.columns.indexOf(query.sort);
  if (query.sort !== null && sortAt < 0) throw new QueryError(`cannot sort by '${query.sort}': the columns are ${table.columns.join(', ')}`);
  const needle = query.q.toLowerCase();
  let rows: QueriedRow[] = [];
  table.rows.forEach((cells, index) => {
    if (where && !where(cells)) return;
    if (query.status && !rowHasStatus(table.columns, cells, query.status)) return;
    if (needle && !cells.some((c) => c.toLowerCase().includes(needle))) return;
    rows.push({ index, cells });
  });
  const total = where ? table.rows.filter(where).length : table.rows.length;
  if (sortAt >= 0) rows = rows.sort((a, b) => compareCells(a.cells[sortAt], b.cells[sortAt], query.desc) || a.index - b.index);
  const pages = Math.max(1, Math.ceil(rows.length / query.size));
  const page = Math.min(query.page, pages);
  return { columns: table.columns, rows: rows.slice((page - 1) * query.size, page * query.size), total, matched: rows.length, page, pages, query: { ...query, page } };
}
