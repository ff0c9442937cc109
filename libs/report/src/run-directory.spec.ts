import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { compareCodeUnits } from '@assay/contracts';
import { entityDir, groupDir, itemFileName, sortRows } from './layout';
import { replaceDirectoryAtomically } from './replace-directory';
import { hashTree as hashTreeOnDisk } from './tree-hash';
import { renderReadme } from './readme';
import { renderItemFile, type RowGroups, truncationNote, writeRunDirectory } from './run-directory';
import { HOSTILE_ENTITIES, HOSTILE_ITEMS, hostileReport } from './testing/fixtures';
import { readParquet } from './testing/read-parquet';
import type { PredictionRow, RunReport, WriteResult } from './types';

jest.setTimeout(60000);

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'assay-report-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await walk(join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}

async function hashTree(dir: string): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const rel of (await walk(dir)).sort()) {
    hashes[rel] = createHash('sha256').update(await readFile(join(dir, rel))).digest('hex');
  }
  return hashes;
}

/** What a CSV reader sees for a value written by toCsv (neutralised strings keep their quote). */
function csvText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  if (typeof value === 'object' && value !== null && '$bigint' in value) return String((value as { $bigint: string }).$bigint);
  return String(value);
}

function sorted(rows: PredictionRow[]): PredictionRow[] {
  const c = compareCodeUnits;
  return [...rows].sort((a, b) => c(a.group, b.group) || c(a.entityId, b.entityId) || c(a.item, b.item));
}

describe('writeRunDirectory', () => {
  let report: RunReport;
  let dir: string;
  let files: string[];
  let written: WriteResult;

  beforeAll(async () => {
    report = hostileReport();
    dir = join(root, 'run-a');
    written = await writeRunDirectory(report, dir);
    files = (await walk(dir)).sort(compareCodeUnits);
  });

  it('writes every expected file, counts them, and hashes what is on disk', async () => {
    expect(written.files).toBe(files.length);
    expect(written.treeHash).toBe(await hashTreeOnDisk(dir, files));
    expect(written.removedLeftovers).toEqual([]);
    for (const f of [
      'README.txt', 'config.yaml', 'config.json', 'metadata.json', 'metrics.json', 'review.txt',
      'predictions.parquet', 'raw_outputs.parquet', 'groups/_index.csv',
      'diagnostics/parse_failures.csv', 'diagnostics/outliers.csv', 'diagnostics/value_ranges.json', 'diagnostics/actual_vs_predicted.csv',
    ]) {
      expect(files).toContain(f);
    }
    const groups = [...new Set(HOSTILE_ITEMS.map((i) => i.group))];
    for (const group of groups) {
      for (const f of ['group_metrics.json', 'predictions.csv', 'per_entity.csv']) expect(files).toContain(`${groupDir(group)}/${f}`);
      for (const entity of HOSTILE_ENTITIES) {
        expect(files).toContain(`${entityDir(group, entity)}/summary.txt`);
        for (const spec of HOSTILE_ITEMS.filter((i) => i.group === group)) {
          expect(files).toContain(`${entityDir(group, entity)}/${itemFileName(spec.item)}`);
        }
      }
    }
    // 2 groups named 'A' and 'a' + 1 more, 13 entities, 7 items: one file per row, nothing merged.
    expect(files.filter((f) => /\/entities\/[^/]+\/(?!summary\.txt$)[^/]+$/.test(f))).toHaveLength(HOSTILE_ENTITIES.length * HOSTILE_ITEMS.length);
    // An item called "summary" does not overwrite summary.txt.
    expect(itemFileName('summary')).not.toBe('summary.txt');
    for (const f of files) {
      for (const segment of f.split('/')) expect(segment).toMatch(/^[A-Za-z0-9_~-]+(\.[a-z]+)?$/);
      expect(f.split('/')).not.toContain('..');
    }
    // No two paths that a case-insensitive filesystem would merge.
    expect(new Set(files.map((f) => f.toLowerCase())).size).toBe(files.length);
  });

  it('writes item files with INPUT / OUTPUT / METADATA and the exact ids', async () => {
    const row = report.rows.find((r) => r.entityId === 'Ünïcödé-名前' && r.item === 'x,"y"' && r.parseStatus === 'ok')
      ?? report.rows.find((r) => r.entityId === 'Ünïcödé-名前' && r.item === 'x,"y"');
    if (!row) throw new Error('fixture row missing');
    const text = await readFile(join(dir, entityDir(row.group, row.entityId), itemFileName(row.item)), 'utf8');
    const input = (report.prefixes.get(row.prefixId) as string) + row.suffix;
    const output = row.outputText ?? `[no output: inference failed] ${row.inferenceError}`;
    expect(text.startsWith(`=== INPUT ===\n${input}\n\n=== OUTPUT ===\n${output}\n\n=== METADATA ===\n`)).toBe(true);
    const meta = text.slice(text.indexOf('=== METADATA ===\n') + 17).trimEnd().split('\n');
    expect(meta.map((l) => l.slice(0, l.indexOf(':')))).toEqual([
      'entity_id', 'group', 'item', 'actual', 'predicted', 'abs_error', 'value_range', 'parse_status', 'tokens', 'latency_ms',
      'finish_reason', 'model', 'sampling', 'attempts', 'worker', 'replica', 'started_at', 'finished_at',
    ]);
    expect(meta.slice(11)).toEqual([
      'model: Qwen/Qwen2.5-7B-Instruct',
      'sampling: temperature=0, max_tokens=16, seed=42, stop=["\\n"], guided_json=false',
      `attempts: ${row.attempts}`,
      `worker: ${row.worker ?? 'n/a'}`,
      `replica: ${row.replica}`,
      `started_at: ${row.startedAt}`,
      `finished_at: ${row.finishedAt}`,
    ]);
    expect(meta[0]).toBe('entity_id: Ünïcödé-名前');
    expect(meta[2]).toBe('item: x,"y"');
    expect(meta[6]).toBe('value_range: [-10, 10]');
    expect(meta[8]).toMatch(/^tokens: prompt=(\d+|n\/a), completion=(\d+|n\/a), cached=(\d+|n\/a)$/);

    const failed = report.rows.find((r) => r.parseStatus === 'inference_failure');
    if (!failed) throw new Error('fixture has no inference failure');
    const failedText = await readFile(join(dir, entityDir(failed.group, failed.entityId), itemFileName(failed.item)), 'utf8');
    expect(failedText).toContain('\n=== OUTPUT ===\n[no output: inference failed] HTTP 503 from vLLM after 3 attempts\n\n');
    expect(failedText).toContain('\nparse_status: inference_failure (HTTP 503 from vLLM after 3 attempts)\n');
    expect(failedText).toContain('\ntokens: prompt=n/a, completion=n/a, cached=n/a\nlatency_ms: n/a\nfinish_reason: n/a\n');
    expect(failedText).toContain('\nattempts: 3\nworker: n/a\n');
    expect(failedText).toContain('\nreplica: n/a\nstarted_at: n/a\nfinished_at: n/a\n');

    const tabbed = await readFile(join(dir, entityDir('a', 'tab\there'), 'summary.txt'), 'utf8');
    expect(tabbed.split('\n')[0]).toBe('entity_id: "tab\\there"');
    expect(tabbed).toContain('group: a');
  });

  it('sorts _index.csv and per_entity.csv worst first with baselines alongside', async () => {
    const index = parse(await readFile(join(dir, 'groups/_index.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(index[0])).toEqual(expect.arrayContaining(['group', 'n', 'n_scored', 'normalized_mae', 'parse_failures', 'outliers', 'baseline.mean.normalized_mae']));
    const values = index.map((r) => Number(r.normalized_mae));
    expect([...values].sort((a, b) => b - a)).toEqual(values);
    expect(index.map((r) => r.group).sort()).toEqual(['A', 'Big Five/..', 'a']);

    const perEntity = parse(await readFile(join(dir, groupDir('A'), 'per_entity.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    const nmae = perEntity.map((r) => (r.normalized_mae === '' ? Infinity : Number(r.normalized_mae)));
    expect([...nmae].sort((a, b) => b - a)).toEqual(nmae);
    expect(perEntity.map((r) => r.entity_id)).toEqual(expect.arrayContaining(["'=cmd", "'-5", 'x,"y"', '..']));
  });

  it('writes parquet files that an independent reader decodes to the CSV values, with their types', async () => {
    const predictions = readParquet(join(dir, 'predictions.parquet'));
    expect(predictions.columns).toEqual([
      { name: 'entity_id', type: 'BYTE_ARRAY', repetition: 'REQUIRED', convertedType: 'UTF8' },
      { name: 'group', type: 'BYTE_ARRAY', repetition: 'REQUIRED', convertedType: 'UTF8' },
      { name: 'item', type: 'BYTE_ARRAY', repetition: 'REQUIRED', convertedType: 'UTF8' },
      { name: 'kind', type: 'BYTE_ARRAY', repetition: 'REQUIRED', convertedType: 'UTF8' },
      { name: 'actual', type: 'DOUBLE', repetition: 'REQUIRED' },
      { name: 'predicted', type: 'DOUBLE', repetition: 'OPTIONAL' },
      { name: 'abs_error', type: 'DOUBLE', repetition: 'OPTIONAL' },
      { name: 'parse_status', type: 'BYTE_ARRAY', repetition: 'REQUIRED', convertedType: 'UTF8' },
      { name: 'outlier', type: 'BOOLEAN', repetition: 'REQUIRED' },
    ]);
    const flat = parse(await readFile(join(dir, 'diagnostics/actual_vs_predicted.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    expect(predictions.rows).toHaveLength(report.rows.length);
    expect(flat).toHaveLength(report.rows.length);
    predictions.rows.forEach((row, i) => {
      for (const [column, value] of Object.entries(row)) expect([column, csvText(value)]).toEqual([column, flat[i][column]]);
    });
    expect(predictions.rows.some((r) => r.predicted === null)).toBe(true);
    expect(predictions.rows.every((r) => typeof r.outlier === 'boolean' && typeof r.actual === 'number')).toBe(true);

    const raw = readParquet(join(dir, 'raw_outputs.parquet'));
    expect(raw.columns.map((c) => [c.name, c.type, c.repetition])).toEqual([
      ['entity_id', 'BYTE_ARRAY', 'REQUIRED'], ['group', 'BYTE_ARRAY', 'REQUIRED'], ['item', 'BYTE_ARRAY', 'REQUIRED'],
      ['prompt_id', 'BYTE_ARRAY', 'REQUIRED'], ['input_text', 'BYTE_ARRAY', 'REQUIRED'], ['output_text', 'BYTE_ARRAY', 'OPTIONAL'],
      ['prompt_tokens', 'INT64', 'OPTIONAL'], ['completion_tokens', 'INT64', 'OPTIONAL'], ['cached_tokens', 'INT64', 'OPTIONAL'],
      ['latency_ms', 'DOUBLE', 'OPTIONAL'], ['attempts', 'INT64', 'REQUIRED'], ['worker', 'BYTE_ARRAY', 'OPTIONAL'],
      ['inference_error', 'BYTE_ARRAY', 'OPTIONAL'], ['finish_reason', 'BYTE_ARRAY', 'OPTIONAL'], ['model', 'BYTE_ARRAY', 'REQUIRED'],
      ['lora_adapter', 'BYTE_ARRAY', 'OPTIONAL'], ['temperature', 'DOUBLE', 'REQUIRED'], ['max_tokens', 'INT64', 'REQUIRED'],
      ['seed', 'INT64', 'REQUIRED'], ['stop', 'BYTE_ARRAY', 'REQUIRED'], ['guided_json', 'BOOLEAN', 'REQUIRED'],
      ['replica', 'BYTE_ARRAY', 'OPTIONAL'], ['started_at', 'BYTE_ARRAY', 'OPTIONAL'], ['finished_at', 'BYTE_ARRAY', 'OPTIONAL'],
    ]);
    const expected = sorted(report.rows);
    raw.rows.forEach((row, i) => {
      const r = expected[i];
      expect([row.entity_id, row.group, row.item]).toEqual([r.entityId, r.group, r.item]);
      expect(row.input_text).toBe((report.prefixes.get(r.prefixId) as string) + r.suffix);
      expect(row.output_text).toBe(r.outputText);
      expect(row.attempts).toEqual({ $bigint: String(r.attempts) });
      expect(row.prompt_tokens).toEqual(r.promptTokens === null ? null : { $bigint: String(r.promptTokens) });
      expect(row.latency_ms).toBe(r.latencyMs);
      expect(csvText(row.cached_tokens)).toBe(flat[i].cached_tokens);
      expect(row).toMatchObject({
        finish_reason: r.finishReason, model: r.call?.model, lora_adapter: null, temperature: 0, max_tokens: { $bigint: '16' }, seed: { $bigint: '42' },
        stop: '["\\n"]', guided_json: false, replica: r.replica, started_at: r.startedAt, finished_at: r.finishedAt,
      });
    });
  });

  it('writes diagnostics for failures and outliers, and the review verdict', async () => {
    const failures = parse(await readFile(join(dir, 'diagnostics/parse_failures.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    expect(failures.length).toBe(report.rows.filter((r) => r.parseStatus !== 'ok').length);
    expect(new Set(failures.map((f) => f.parse_status))).toEqual(new Set(['parse_failure', 'inference_failure']));
    for (const f of failures) {
      expect(f.reason).not.toBe('');
      if (f.parse_status === 'parse_failure') expect(f.raw_output).toBe("'=SUM(A1) I cannot say, \"really\"");
      else expect([f.parse_status, f.raw_output]).toEqual(['inference_failure', '']);
    }
    // The fixture's one answer cut off at max_tokens says so; no other failure claims it.
    const truncated = failures.filter((f) => f.reason.includes('truncated'));
    expect(truncated.map((f) => f.reason)).toEqual(['no number found in output; the answer was truncated at max_tokens=16 (finish_reason: length)']);
    const outliers = parse(await readFile(join(dir, 'diagnostics/outliers.csv'), 'utf8'), { columns: true }) as unknown[];
    expect(outliers.length).toBe(report.rows.filter((r) => r.outlier).length);
    const review = (await readFile(join(dir, 'review.txt'), 'utf8')).trimEnd().split('\n');
    const verdictAt = review.findIndex((l) => l.startsWith('OVERALL: '));
    expect(review.slice(0, verdictAt).every((l) => /^\[(PASS|WARN|FAIL)\] .+ — .*/.test(l))).toBe(true);
    expect(review[verdictAt]).toMatch(/^OVERALL: (PASS|WARN|FAIL) — \d+ fail, \d+ warn, \d+ pass of 2 checks$/);
    expect(review.slice(verdictAt + 1)).toEqual([
      '',
      'FOR YOU TO DO (not checks: no code can judge these, so they are not part of the verdict):',
      '[TODO] Spot-check LLM input/output files — read these: a.txt, b.txt',
    ]);
  });

  it('given no pre-flight warnings, then README.txt has no WARNINGS section and review.txt no warnings line', async () => {
    expect(report.warnings).toEqual([]);
    expect(await readFile(join(dir, 'README.txt'), 'utf8')).not.toContain('WARNINGS');
    expect(await readFile(join(dir, 'review.txt'), 'utf8')).not.toContain('Pre-flight warnings');
  });

  it('given data warnings from the pre-flight, then README.txt lists them before the results and review.txt has a warn line for them', async () => {
    const warnings = [
      'data/responses.csv: 2 value(s) outside their item\'s [min, max] (kept as is): line 3 entity "e1", group "g", item "q": 9 not in [1, 5]; line 7 entity "e2", group "g", item "q": 0 not in [1, 5]',
      'data/profiles.csv: 1 entit(y/ies) have no observation (nothing to evaluate them on): "e9"',
    ];
    const warned = { ...report, warnings };
    const out = mkdtempSync(join(tmpdir(), 'assay-warned-'));
    await writeRunDirectory(warned, out);
    const readme = await readFile(join(out, 'README.txt'), 'utf8');
    expect(readme).toContain(`WARNINGS (read before the results)\n----------------------------------\n- ${warnings[0]}\n- ${warnings[1]}\n`);
    expect(readme.indexOf('WARNINGS (read')).toBeLessThan(readme.indexOf('KEY RESULTS'));
    const review = (await readFile(join(out, 'review.txt'), 'utf8')).trimEnd().split('\n');
    // The last check comes just before the verdict; the researcher's to-dos follow it.
    const verdict = review.findIndex((line) => line.startsWith('OVERALL: '));
    expect(review[verdict - 1]).toBe(`[WARN] Pre-flight warnings (data, split, config) — 2 warning(s), read them before trusting the numbers: (1) ${warnings[0]} (2) ${warnings[1]}`);
    expect(review[verdict]).toMatch(/^OVERALL: (WARN|FAIL) — /);
    expect(readme).toContain(`[WARN] Pre-flight warnings (data, split, config) — 2 warning(s)`);
    await rm(out, { recursive: true, force: true });
  });

  it('renders a README that names the worst group and entity, baselines and direction', async () => {
    const readme = await readFile(join(dir, 'README.txt'), 'utf8');
    expect(readme).toBe(renderReadme(report));
    for (const heading of ['PURPOSE', 'SCOPE', 'MODEL', 'KEY RESULTS', 'WHAT THE METRICS MEAN', 'PREFIX CACHE', 'NAVIGATION', 'COMPARISON CONTEXT', 'REVIEW']) {
      expect(readme).toContain(`\n${heading}`);
    }
    const worstGroup = report.evaluation.method.byGroup[0].group;
    expect(readme).toContain(`Worst group:  ${worstGroup} `);
    expect(readme).toMatch(/Worst entity: .+\n +-> groups\/.+\/entities\/.+\/summary\.txt/);
    expect(readme).toContain('mean (baseline)');
    expect(readme).toContain('LOWER is better');
    // A positive rate is a description, not a score: no "better" direction, and the README says why.
    expect(readme).toMatch(/\nbinary\.predicted_positive_rate +[\d.]+ +[\d.]+ +—\n/);
    expect(readme).toContain('— = no better direction, a description rather than a score: binary.predicted_positive_rate.');
    expect(readme).toMatch(/\nbinary\.accuracy +[\d.]+ +[\d.]+ +higher\n/);
    expect(readme).toContain('predicted_positive_rate (binary; no better direction): share of yes predictions');
    expect(readme).toContain('[TODO] Spot-check LLM input/output files');
    expect(readme).not.toContain('[PASS] Spot-check');
    // No numbered citations of a document the reader does not have: the practice is explained in place.
    expect(readme).not.toContain('§');
    expect(readme).toContain('81.23%');
    expect(readme).toContain('a'.repeat(64));
  });

  it('is byte-identical for identical input, whatever the row and prefix order', async () => {
    const again = hostileReport();
    again.rows = [...again.rows].reverse();
    again.prefixes = new Map([...again.prefixes].reverse());
    const dirB = join(root, 'run-b');
    const second = await writeRunDirectory(again, dirB);
    expect(second.files).toBe(files.length);
    expect(second.treeHash).toBe(written.treeHash);
    expect(await hashTree(dirB)).toEqual(await hashTree(dir));
  });

  it('returns the tree hash of the bytes on disk, and hard-links what an identical earlier tree already has', async () => {
    const first = await writeRunDirectory(report, join(root, 'hashed'));
    expect(first.treeHash).toBe(await hashTreeOnDisk(join(root, 'hashed'), files));
    expect(first.linkedFiles).toBe(0);
    const again = await writeRunDirectory(report, join(root, 'relinked'), { reuseUnchangedFrom: join(root, 'hashed') });
    expect(again.treeHash).toBe(first.treeHash);
    expect(again.files).toBe(files.length);
    // Every file but the two parquet files and the table of every row (written by their own streams).
    expect(again.linkedFiles).toBe(files.length - 3);
    await rm(join(root, 'hashed'), { recursive: true });
    expect(await hashTreeOnDisk(join(root, 'relinked'), files)).toBe(first.treeHash);
    await expect(writeRunDirectory(report, join(root, 'self'), { reuseUnchangedFrom: join(root, 'self') })).rejects.toThrow(/another directory/);
  });

  /** A RowGroups source of the given groups (each a list of entity runs), as they are given. */
  const sourceOf = (order: PredictionRow[][][], opts: { anyFailover?: boolean; entityIds?: (runs: PredictionRow[][]) => string[]; prefixes?: (rows: PredictionRow[]) => ReadonlyMap<string, string> } = {}): RowGroups => ({
    anyFailover: opts.anyFailover ?? false,
    async *groups() {
      for (const runs of order) {
        yield {
          group: runs[0][0].group,
          entityIds: opts.entityIds?.(runs) ?? runs.map((run) => run[0].entityId),
          async *entities() {
            yield* runs;
          },
          prefixes: opts.prefixes?.(runs.flat()) ?? hostileReport().prefixes,
        };
      }
    },
  });
  /** The hostile report's rows by group, then by entity, in code-unit order. */
  const runsOf = (rows: readonly PredictionRow[]): PredictionRow[][][] => {
    const sorted = sortRows(rows);
    return [...new Set(sorted.map((r) => r.group))].map((g) => {
      const ofGroup = sorted.filter((r) => r.group === g);
      return [...new Set(ofGroup.map((r) => r.entityId))].map((e) => ofGroup.filter((r) => r.entityId === e));
    });
  };

  it('given the rows an entity at a time (each in any order), each group with only its own prefixes, when written, then the tree is the same as from report.rows', async () => {
    const source = hostileReport();
    const rows = sourceOf(
      runsOf(source.rows).map((runs) => runs.map((run) => [...run].reverse())),
      { prefixes: (own) => new Map(own.map((r) => [r.prefixId, source.prefixes.get(r.prefixId) as string])) },
    );
    const withoutRows = { ...source, rows: [], prefixes: new Map<string, string>() };
    const dirC = join(root, 'by-group');
    const byGroup = await writeRunDirectory(withoutRows, dirC, { rows });
    expect(byGroup.files).toBe(files.length);
    expect(byGroup.treeHash).toBe(written.treeHash);
    expect(await hashTree(dirC)).toEqual(await hashTree(dir));
  });

  it('given groups or entities out of order, a group twice, rows of two groups or entities in one run, a run missing, or a source wrong about failovers, when written, then it says so', async () => {
    const byGroup = runsOf(hostileReport().rows);
    const write = (name: string, rows: RowGroups) => writeRunDirectory(report, join(root, name), { rows });
    await expect(write('reversed', sourceOf([...byGroup].reverse()))).rejects.toThrow(/groups of rows out of order/);
    await expect(write('twice', sourceOf([byGroup[0], byGroup[0]]))).rejects.toThrow(/groups of rows out of order/);
    await expect(write('mixed', sourceOf([[[...byGroup[0][0], ...byGroup[1][0]]]]))).rejects.toThrow(/include rows of another group/);
    await expect(write('entities-reversed', sourceOf([[...byGroup[0]].reverse()]))).rejects.toThrow(/entities of group .* out of order/);
    await expect(write('entities-misordered', sourceOf([[...byGroup[0]].reverse()], { entityIds: () => byGroup[0].map((run) => run[0].entityId) }))).rejects.toThrow(/came out of order: expected the rows of entity/);
    await expect(write('two-entities', sourceOf([[[...byGroup[0][0], ...byGroup[0][1]], ...byGroup[0].slice(2)]], { entityIds: () => byGroup[0].map((run) => run[0].entityId) }))).rejects.toThrow(/came out of order/);
    await expect(write('missing-entity', sourceOf([byGroup[0].slice(1)], { entityIds: () => byGroup[0].map((run) => run[0].entityId) }))).rejects.toThrow(/came out of order|announced/);
    await expect(write('short', sourceOf([byGroup[0].slice(0, -1)], { entityIds: () => byGroup[0].map((run) => run[0].entityId) }))).rejects.toThrow(/entities announced, the rows of \d+ came/);
    await expect(write('failover', sourceOf(byGroup, { anyFailover: true }))).rejects.toThrow(/anyFailover=true/);
  });

  it('refuses a non-empty directory, duplicate rows and missing prefixes', async () => {
    await expect(writeRunDirectory(report, dir)).rejects.toThrow(/not empty/);
    const dup = hostileReport();
    dup.rows = [...dup.rows, dup.rows[0]];
    await expect(writeRunDirectory(dup, join(root, 'dup'))).rejects.toThrow(/duplicate prediction row/);
    const missing = hostileReport();
    missing.prefixes = new Map();
    await expect(writeRunDirectory(missing, join(root, 'missing'))).rejects.toThrow(/is missing from report.prefixes/);
  });
});

describe('a call that failed over to another replica', () => {
  it('given a call served by the next replica because its entity\'s own was down, when the run directory is written, then its METADATA says failover_from and raw_outputs gains a failover_from column, null for the other calls', async () => {
    const report = hostileReport();
    const moved = report.rows.find((r) => r.replica !== null) as PredictionRow;
    moved.failoverFrom = 'http://gpu-9:8000/v1';
    const dir = join(root, 'run-failover');
    await writeRunDirectory(report, dir);

    const text = await readFile(join(dir, entityDir(moved.group, moved.entityId), itemFileName(moved.item)), 'utf8');
    expect(text).toContain(`\nreplica: ${moved.replica}\nfailover_from: http://gpu-9:8000/v1\nstarted_at: `);
    const raw = readParquet(join(dir, 'raw_outputs.parquet'));
    expect(raw.columns.map((c) => c.name).slice(-2)).toEqual(['finished_at', 'failover_from']);
    expect(raw.rows.filter((row) => row.failover_from !== null)).toEqual([expect.objectContaining({ prompt_id: moved.promptId, replica: moved.replica, failover_from: 'http://gpu-9:8000/v1' })]);
    expect(await readFile(join(dir, 'README.txt'), 'utf8')).toContain('and failover_from: the entity\'s own replica');
  });

  it('given no call failed over, when an item file is rendered, then it has no failover_from line', () => {
    const row = hostileReport().rows.find((r) => r.replica !== null) as PredictionRow;
    expect(renderItemFile(row, 'input')).not.toContain('failover_from');
    expect(renderReadme(hostileReport())).not.toContain('failover_from');
  });
});

describe('replaceDirectoryAtomically', () => {
  it('swaps the new tree in, carries logs over and leaves nothing behind', async () => {
    const parent = join(root, 'swap');
    const finalDir = join(parent, 'run');
    await mkdir(join(finalDir, 'logs'), { recursive: true });
    await writeFile(join(finalDir, 'logs', 'reporter.log'), 'line 1\n');
    await writeFile(join(finalDir, 'stale.txt'), 'old');
    const tmp = join(parent, 'run.tmp');
    await mkdir(join(tmp, 'logs'), { recursive: true });
    await writeFile(join(tmp, 'README.txt'), 'new');
    await writeFile(join(tmp, 'logs', 'ignored.log'), 'x');

    const { oldRemoved } = await replaceDirectoryAtomically(tmp, finalDir, ['logs']);
    expect((await walk(finalDir)).sort()).toEqual(['README.txt', 'logs/reporter.log']);
    expect(await readFile(join(finalDir, 'logs', 'reporter.log'), 'utf8')).toBe('line 1\n');
    await oldRemoved;
    expect((await readdir(parent)).sort()).toEqual(['run']);
  });

  it('works when the final directory does not exist yet', async () => {
    const tmp = join(root, 'fresh.tmp');
    await mkdir(tmp);
    await writeFile(join(tmp, 'README.txt'), 'x');
    const finalDir = join(root, 'nested', 'fresh');
    await (await replaceDirectoryAtomically(tmp, finalDir, ['logs'])).oldRemoved;
    expect(await walk(finalDir)).toEqual(['README.txt']);
  });

  it('rejects keep entries that are paths', async () => {
    await expect(replaceDirectoryAtomically(root, join(root, 'x'), ['../etc'])).rejects.toThrow(/plain subfolder/);
  });
});

describe('a call cut off at max_tokens', () => {
  const base = hostileReport().rows.find((r) => r.parseStatus === 'ok')!;
  const row = (over: Partial<PredictionRow>): PredictionRow => ({ ...base, ...over });
  const metadata = (r: PredictionRow) => renderItemFile(r, 'input').split('=== METADATA ===\n')[1];

  it('given a parse failure with finish_reason length, when described, then says the answer was truncated at max_tokens', () => {
    const r = row({ parseStatus: 'parse_failure', predicted: null, parseError: 'no number found in output', outputText: 'The answer is pro', finishReason: 'length' });
    expect(truncationNote(r)).toBe('the answer was truncated at max_tokens=16 (finish_reason: length)');
    expect(metadata(r)).toContain('\nparse_status: parse_failure (no number found in output; the answer was truncated at max_tokens=16 (finish_reason: length))\n');
    expect(metadata(r)).toContain('\nfinish_reason: length (cut off at max_tokens=16)\n');
  });

  it('given a parse failure that stopped on its own, when described, then blames no truncation', () => {
    const r = row({ parseStatus: 'parse_failure', predicted: null, parseError: 'no number found in output', finishReason: 'stop' });
    expect(truncationNote(r)).toBeNull();
    expect(metadata(r)).toContain('\nparse_status: parse_failure (no number found in output)\n');
    expect(metadata(r)).toContain('\nfinish_reason: stop\n');
    expect(metadata(r)).not.toContain('truncated');
  });

  it('given a parsed answer that was cut off anyway, when described, then shows the finish reason but no failure', () => {
    const r = row({ finishReason: 'length' });
    expect(truncationNote(r)).toBeNull();
    expect(metadata(r)).toContain('\nparse_status: ok\n');
    expect(metadata(r)).toContain('\nfinish_reason: length (cut off at max_tokens=16)\n');
  });

  it('given a log from before calls were timed, when described, then says the times were not recorded', () => {
    const text = metadata(row({ startedAt: null, finishedAt: null, call: { ...base.call!, loraAdapter: 'survey-lora' } }));
    expect(text).toContain('\nmodel: Qwen/Qwen2.5-7B-Instruct (LoRA adapter survey-lora)\n');
    expect(text).toContain('\nstarted_at: n/a (not recorded in this log)\nfinished_at: n/a (not recorded in this log)\n');
  });
});
