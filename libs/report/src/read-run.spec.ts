import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCsvTable, RunDirectoryReader, RunFileError, splitCallFile } from './read-run';
import { renderItemFile, writeRunDirectory } from './run-directory';
import { HOSTILE_ENTITIES, HOSTILE_ITEMS, hostileReport } from './testing/fixtures';
import type { RunReport } from './types';

jest.setTimeout(60000);

let root: string;
let report: RunReport;
let runDir: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'assay-read-run-'));
  report = hostileReport();
  // One call whose input and output both hold the section markers: the file alone cannot be split.
  const tricky = report.rows.find((r) => r.entityId === '=cmd' && r.item === 'Q1')!;
  tricky.suffix = 'x\n\n=== OUTPUT ===\nfake output\n\n=== METADATA ===\nentity_id: fake\n';
  tricky.outputText = '<script>window.pwned=1</script>\n\n=== OUTPUT ===\nspoof\n\n=== METADATA ===\nspoofed: yes';
  runDir = join(root, 'run');
  await writeRunDirectory(report, runDir);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('RunDirectoryReader', () => {
  it('reads the worst-first tables as text, exactly as written', async () => {
    const reader = new RunDirectoryReader();
    const groups = await reader.groups(runDir);
    expect(groups?.columns.slice(0, 3)).toEqual(['group', 'n', 'n_scored']);
    expect(groups?.rows.map((r) => r[0]).sort()).toEqual(['A', 'Big Five/..', 'a']);
    const entities = await reader.entities(runDir, 'Big Five/..');
    expect(entities?.rows.map((r) => r[0]).sort()).toEqual([...HOSTILE_ENTITIES].sort());
    const predictions = await reader.groupPredictions(runDir, 'Big Five/..');
    expect(predictions?.rows).toHaveLength(HOSTILE_ENTITIES.length * HOSTILE_ITEMS.filter((i) => i.group === 'Big Five/..').length);
  });

  it('answers null for a run without a report, and for a missing table', async () => {
    const reader = new RunDirectoryReader();
    expect(await reader.groups(join(root, 'nothing'))).toBeNull();
    expect(await reader.entities(runDir, 'no such group')).toBeNull();
    expect(await readCsvTable(join(root, 'absent.csv'))).toBeNull();
  });

  it('reads one call: INPUT exactly as sent, OUTPUT and METADATA as the file says', async () => {
    const reader = new RunDirectoryReader();
    const row = report.rows.find((r) => r.entityId === 'e/../../etc' && r.item === 'q1')!;
    const call = await reader.call(runDir, row.group, row.entityId, row.item);
    expect(call).toMatchObject({ group: 'Big Five/..', entityId: 'e/../../etc', item: 'q1', input: report.prefixes.get(row.prefixId)! + row.suffix });
    expect(call?.output).toBe(row.outputText ?? expect.any(String));
    expect(call?.metadata).toContain('entity_id: e/../../etc');
    expect(call?.file).toMatch(/^groups\/[a-z0-9_~-]+\/entities\/[a-z0-9_~-]+\/[a-z0-9_~-]+\.txt$/);
  });

  it('splits a call whose input and output contain the section markers, with the input from raw_outputs.parquet', async () => {
    const reader = new RunDirectoryReader();
    const row = report.rows.find((r) => r.entityId === '=cmd' && r.item === 'Q1')!;
    const call = await reader.call(runDir, row.group, row.entityId, row.item);
    expect(call?.input).toBe(report.prefixes.get(row.prefixId)! + row.suffix);
    expect(call?.output).toBe(row.outputText);
    expect(call?.metadata[0]).toBe('entity_id: =cmd');
    expect(call?.metadata).not.toContain('spoofed: yes');
  });

  it('answers null for a call that does not exist', async () => {
    expect(await new RunDirectoryReader().call(runDir, 'A', 'nobody', 'x')).toBeNull();
  });
});

describe('splitCallFile', () => {
  it('refuses a file whose INPUT is not the given input', () => {
    const file = renderItemFile(hostileReport().rows[0], 'the input');
    expect(() => splitCallFile(file, 'another input', 'f.txt')).toThrow(RunFileError);
    expect(() => splitCallFile(file, 'another input', 'f.txt')).toThrow(/f\.txt: its INPUT section differs/);
    expect(splitCallFile(file, 'the input', 'f.txt').metadata.length).toBeGreaterThan(10);
  });
});
