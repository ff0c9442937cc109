import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parquet = require('parquetjs-lite');
import { checkDataset, csvLine, Dataset, DatasetFiles, datasetHash, entityOf, featurePairs, hashFile, loadDataset, ObservationColumns, observationsWhere, valueRanges } from './index';
import { itemKey } from '@assay/contracts';

const ITEMS_CSV = 'group,item,question,min,max,kind\ng1,q1,Agree?,1,5,ordinal\ng1,q2,Did you?,0,1,binary\ng2,q1,How much?,0,100,continuous\n';
const PROFILES_CSV = 'entity_id,age,region\ne1,30,north\ne2,41,"south, coast"\n';
const RESPONSES_CSV = 'entity_id,group,item,value\ne1,g1,q1,4\ne1,g1,q2,1\ne2,g2,q1,55.5\ne2,g1,q1,\n';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-data-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeCsvs(over: Partial<Record<keyof DatasetFiles, string>> = {}): Promise<DatasetFiles> {
  const files = { profiles: join(dir, 'profiles.csv'), responses: join(dir, 'responses.csv'), items: join(dir, 'items.csv') };
  await writeFile(files.profiles, over.profiles ?? PROFILES_CSV);
  await writeFile(files.responses, over.responses ?? RESPONSES_CSV);
  await writeFile(files.items, over.items ?? ITEMS_CSV);
  return files;
}

describe('loadDataset (CSV)', () => {
  it('given valid CSV files, when loaded, then entities keep file order and raw cell text, empty values are missing', async () => {
    const files = await writeCsvs();
    const ds = await loadDataset(files);
    expect(ds.featureNames).toEqual(['age', 'region']);
    expect(ds.entities).toEqual([
      entityOf('e1', [['age', '30'], ['region', 'north']]),
      entityOf('e2', [['age', '41'], ['region', 'south, coast']]),
    ]);
    expect([...ds.observations]).toEqual([
      { entityId: 'e1', group: 'g1', item: 'q1', value: 4, line: 2 },
      { entityId: 'e1', group: 'g1', item: 'q2', value: 1, line: 3 },
      { entityId: 'e2', group: 'g2', item: 'q1', value: 55.5, line: 4 },
    ]);
    expect(ds.missing).toEqual([{ entityId: 'e2', group: 'g1', item: 'q1', line: 5 }]);
    expect(ds.items[1]).toEqual({ group: 'g1', item: 'q2', question: 'Did you?', min: 0, max: 1, kind: 'binary' });
    expect(valueRanges(ds.items).get(itemKey('g2', 'q1'))).toEqual({ min: 0, max: 100 });

    const check = checkDataset(ds);
    expect(check.errors).toEqual([]);
    expect(check.warnings.join('\n')).toContain(`${files.responses}: 1 row(s) with an empty value skipped as missing observations: line 5 entity "e2"`);
  });

  it('given a quoted cell spanning two lines, when a later row is bad, then the reported line counts physical lines', async () => {
    const files = await writeCsvs({ responses: 'entity_id,group,item,value\ne1,g1,q1,4\n\ne1,"g1",q2,"1"\ne2,g2,q1,abc\n' });
    await expect(loadDataset(files)).rejects.toThrow(`${files.responses}:5 column 'value' (4): non-numeric value "abc" for entity "e2", group "g2", item "q1"`);
    const multi = await writeCsvs({ profiles: 'entity_id,note\ne1,"two\nlines"\ne1,x\n' });
    await expect(loadDataset(multi)).rejects.toThrow(`${multi.profiles}:4 column 'entity_id' (1): duplicate entity id "e1", first on line 2`);
  });
});

describe('the compact dataset', () => {
  it('given loaded files, then every entity holds its values under the one list of column names', async () => {
    const ds = await loadDataset(await writeCsvs({ profiles: 'entity_id,age,region\ne1,30,north\ne2,31,north\n' }));
    expect(ds.entities.every((e) => e.featureNames === ds.featureNames)).toBe(true);
    expect(ds.entities.map((e) => e.values)).toEqual([['30', 'north'], ['31', 'north']]);
    expect(featurePairs(ds.entities[1])).toEqual([['age', '31'], ['region', 'north']]);
  });

  it('given observations pushed into columns, when read by position or in a pass, then they read as the array of the same rows would', () => {
    const rows = [
      { entityId: 'e1', group: 'g', item: 'q1', value: 1.5, line: 2 },
      { entityId: 'e2', group: 'g', item: 'q2', value: -3, line: 4 },
    ];
    const columns = new ObservationColumns();
    for (const o of rows) columns.push(o);
    expect(columns.length).toBe(2);
    expect([...columns]).toEqual(rows);
    for (const i of [0, 1, -1, -2, 2, -3, 7]) expect(columns.at(i)).toEqual(rows.at(i));
    expect(observationsWhere(columns, (o) => o.value > 0)).toEqual([rows[0]]);
  });

  it('given a bad row before a malformed CSV row, when loaded a row at a time, then the first bad row is the error, with its file, line and column', async () => {
    const files = await writeCsvs({ responses: 'entity_id,group,item,value\ne1,g1,q1,x\ne1,g1\n' });
    await expect(loadDataset(files)).rejects.toThrow(`${files.responses}:2 column 'value' (4): non-numeric value "x" for entity "e1", group "g1", item "q1"`);
  });
});

describe('loadDataset errors', () => {
  const cases: Array<[string, Partial<Record<keyof DatasetFiles, string>>, (f: DatasetFiles) => string]> = [
    ['profiles without entity_id first', { profiles: 'age,entity_id\n3,e1\n' }, (f) => `${f.profiles}:1: the first column must be 'entity_id'; header found: "age","entity_id"`],
    ['duplicate entity id', { profiles: 'entity_id,age\ne1,3\ne2,4\ne1,5\n' }, (f) => `${f.profiles}:4 column 'entity_id' (1): duplicate entity id "e1", first on line 2`],
    ['empty entity id', { profiles: 'entity_id,age\n,3\n' }, (f) => `${f.profiles}:2 column 'entity_id' (1): empty entity_id`],
    ['non-numeric value', { responses: 'entity_id,group,item,value\ne1,g1,q1,4\ne1,g1,q2,yes\n' }, (f) => `${f.responses}:3 column 'value' (4): non-numeric value "yes" for entity "e1", group "g1", item "q2"`],
    ['hex is not a number', { responses: 'entity_id,group,item,value\ne1,g1,q1,0x1\n' }, (f) => `${f.responses}:2 column 'value' (4): non-numeric value "0x1"`],
    ['missing response column', { responses: 'entity_id,group,item\ne1,g1,q1\n' }, (f) => `${f.responses}:1: missing column(s) 'value'; expected entity_id,group,item,value`],
    ['misspelt response column', { responses: 'entity_id,group,item,valeu\ne1,g1,q1,1\n' }, (f) => `missing column(s) 'value'; unexpected column(s) "valeu"`],
    ['unknown kind', { items: 'group,item,question,min,max,kind\ng1,q1,Q,1,5,likert\n' }, (f) => `${f.items}:2 column 'kind' (6): unknown kind "likert" for group "g1", item "q1"; expected one of binary, ordinal, continuous`],
    ['min not below max', { items: 'group,item,question,min,max,kind\ng1,q1,Q,5,5,ordinal\n' }, (f) => `${f.items}:2 column 'max' (5): min (5) must be < max (5) for group "g1", item "q1"`],
    ['binary not 0..1', { items: 'group,item,question,min,max,kind\ng1,q1,Q,1,2,binary\n' }, (f) => `${f.items}:2 column 'min' (4): a binary item must have min 0 and max 1, got 1..2 for group "g1", item "q1"`],
    ['non-numeric min', { items: 'group,item,question,min,max,kind\ng1,q1,Q,low,5,ordinal\n' }, (f) => `${f.items}:2 column 'min' (4): non-numeric min "low" for group "g1", item "q1"`],
    ['duplicate item', { items: 'group,item,question,min,max,kind\ng1,q1,Q,1,5,ordinal\ng1,q1,Q,1,5,ordinal\n' }, (f) => `${f.items}:3: duplicate group "g1", item "q1", first on line 2`],
    ['ragged CSV row', { profiles: 'entity_id,age\ne1,3,extra\n' }, (f) => `${f.profiles}: invalid CSV: Invalid Record Length`],
  ];
  it.each(cases)('given %s, when loaded, then the error names file, line, column and id', async (_name, over, expected) => {
    const files = await writeCsvs(over);
    await expect(loadDataset(files)).rejects.toThrow(expected(files));
  });

  it('given an unsupported extension, when loaded, then it says which types are supported', async () => {
    const files = await writeCsvs();
    await expect(loadDataset({ ...files, items: join(dir, 'items.xlsx') })).rejects.toThrow(`${join(dir, 'items.xlsx')}: unsupported file type '.xlsx'; expected .csv or .parquet`);
  });
});

describe('checkDataset', () => {
  it('given responses naming unknown entities and items, when checked, then errors list lines, ids and counts', async () => {
    const rows = ['entity_id,group,item,value', 'e1,g1,q1,4'];
    for (let i = 0; i < 7; i++) rows.push(`ghost${i},g1,q1,1`);
    rows.push('e1,g9,q1,1');
    const files = await writeCsvs({ responses: rows.join('\n') + '\n' });
    const { errors } = checkDataset(await loadDataset(files));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBe(
      `${files.responses}: 7 row(s) name an entity_id that is not in ${files.profiles}: line 3 entity "ghost0"; line 4 entity "ghost1"; line 5 entity "ghost2"; line 6 entity "ghost3"; line 7 entity "ghost4"; ... and 2 more`,
    );
    expect(errors[1]).toBe(`${files.responses}: 1 row(s) name a (group, item) that is not in ${files.items}: line 10 entity "e1", group "g9", item "q1"`);
  });

  it('given a repeated (entity, group, item), when checked, then the error names both lines', async () => {
    const files = await writeCsvs({ responses: 'entity_id,group,item,value\ne1,g1,q1,4\ne2,g1,q1,3\ne1,g1,q1,5\n' });
    expect(checkDataset(await loadDataset(files)).errors).toEqual([
      `${files.responses}: 1 duplicate (entity_id, group, item) row(s): line 4 repeats line 2 (entity "e1", group "g1", item "q1")`,
    ]);
  });

  it('given values outside the item range, when checked, then they are warnings with rows, not errors', async () => {
    const files = await writeCsvs({ responses: 'entity_id,group,item,value\ne1,g1,q1,9\ne2,g2,q1,-1\ne2,g1,q1,3\n' });
    const check = checkDataset(await loadDataset(files));
    expect(check.errors).toEqual([]);
    expect(check.outOfRange).toEqual([
      { line: 2, entityId: 'e1', group: 'g1', item: 'q1', value: 9, min: 1, max: 5 },
      { line: 3, entityId: 'e2', group: 'g2', item: 'q1', value: -1, min: 0, max: 100 },
    ]);
    expect(check.warnings[0]).toContain(`${files.responses}: 2 value(s) outside their item's [min, max] (kept as is): line 2 entity "e1", group "g1", item "q1": 9 not in [1, 5]`);
  });

  it('given empty files, when checked, then each emptiness is an error naming the file', async () => {
    const files = await writeCsvs({ profiles: 'entity_id,age\n', responses: 'entity_id,group,item,value\n', items: 'group,item,question,min,max,kind\n' });
    expect(checkDataset(await loadDataset(files)).errors).toEqual([
      `${files.profiles}: no entities (no data rows)`,
      `${files.items}: no items (no data rows)`,
      `${files.responses}: no observations (no rows with a value)`,
    ]);
  });

  it('given a dataset built in code with a duplicate entity, when checked, then it is an error', () => {
    const ds: Dataset = {
      featureNames: [],
      entities: [entityOf('a', []), entityOf('a', [])],
      observations: [{ entityId: 'a', group: 'g', item: 'i', value: 1, line: 2 }],
      items: [{ group: 'g', item: 'i', question: 'Q', min: 0, max: 1, kind: 'binary' }],
      files: { profiles: 'p.csv', responses: 'r.csv', items: 'i.csv' },
    };
    expect(checkDataset(ds).errors).toEqual(['p.csv: duplicate entity id "a" (rows 1 and 2)']);
  });
});

describe('hostile ids', () => {
  const HOSTILE = ['a/b', '../../etc/passwd', 'with space', ' lead and trail ', 'comma,inside', 'say "hi"', "it's", 'ünïcødé 日本 🙂', '{profile}', '=1+1'];

  it('given ids with slashes, dots, spaces, commas, quotes and unicode, when written as CSV and loaded, then they round-trip exactly', async () => {
    const files = await writeCsvs({
      profiles: csvLine(['entity_id', 'f 1,"x"']) + HOSTILE.map((id) => csvLine([id, `v ${id}`])).join(''),
      items: csvLine(['group', 'item', 'question', 'min', 'max', 'kind']) + csvLine(['g/"1", ü', '../q 1', 'Q, "quoted"', 0, 1, 'binary']),
      responses: csvLine(['entity_id', 'group', 'item', 'value']) + HOSTILE.map((id) => csvLine([id, 'g/"1", ü', '../q 1', 1])).join(''),
    });
    const ds = await loadDataset(files);
    expect(ds.entities.map((e) => e.entityId)).toEqual(HOSTILE);
    expect(ds.featureNames).toEqual(['f 1,"x"']);
    expect(ds.entities.map((e) => e.values[0])).toEqual(HOSTILE.map((id) => `v ${id}`));
    expect([...ds.observations].map((o) => [o.entityId, o.group, o.item])).toEqual(HOSTILE.map((id) => [id, 'g/"1", ü', '../q 1']));
    expect(checkDataset(ds).errors).toEqual([]);
  });

  it('given hostile ids in Parquet, when loaded, then they round-trip exactly', async () => {
    const files = await writeCsvs();
    const profiles = join(dir, 'profiles.parquet');
    const w = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema({ entity_id: { type: 'UTF8' } }), profiles);
    for (const id of HOSTILE) await w.appendRow({ entity_id: id });
    await w.close();
    const ds = await loadDataset({ ...files, profiles });
    expect(ds.entities.map((e) => e.entityId)).toEqual(HOSTILE);
  });
});

describe('loadDataset (Parquet)', () => {
  it('given Parquet files with typed columns, when loaded, then cells become text and values numbers', async () => {
    const files = await writeCsvs();
    const profiles = join(dir, 'profiles.parquet');
    const responses = join(dir, 'responses.parquet');
    const pw = await parquet.ParquetWriter.openFile(
      new parquet.ParquetSchema({ entity_id: { type: 'UTF8' }, age: { type: 'INT64' }, score: { type: 'DOUBLE', optional: true }, member: { type: 'BOOLEAN' } }),
      profiles,
    );
    await pw.appendRow({ entity_id: 'e1', age: 30, score: 1.25, member: true });
    await pw.appendRow({ entity_id: 'e2', age: 41, member: false });
    await pw.close();
    const rw = await parquet.ParquetWriter.openFile(
      new parquet.ParquetSchema({ entity_id: { type: 'UTF8' }, group: { type: 'UTF8' }, item: { type: 'UTF8' }, value: { type: 'DOUBLE', optional: true } }),
      responses,
    );
    await rw.appendRow({ entity_id: 'e1', group: 'g1', item: 'q1', value: 4 });
    await rw.appendRow({ entity_id: 'e2', group: 'g1', item: 'q1' });
    await rw.appendRow({ entity_id: 'e2', group: 'g2', item: 'q1', value: 0.1 });
    await rw.close();

    const ds = await loadDataset({ profiles, responses, items: files.items });
    expect(ds.featureNames).toEqual(['age', 'score', 'member']);
    expect(featurePairs(ds.entities[0])).toEqual([['age', '30'], ['score', '1.25'], ['member', 'true']]);
    expect(featurePairs(ds.entities[1])).toEqual([['age', '41'], ['score', ''], ['member', 'false']]);
    expect([...ds.observations]).toEqual([
      { entityId: 'e1', group: 'g1', item: 'q1', value: 4, line: 2 },
      { entityId: 'e2', group: 'g2', item: 'q1', value: 0.1, line: 4 },
    ]);
    expect(ds.missing).toEqual([{ entityId: 'e2', group: 'g1', item: 'q1', line: 3 }]);
    expect(checkDataset(ds).warnings[0]).toBe(`${responses}: 1 row(s) with an empty value skipped as missing observations: line 3 (parquet row 2) entity "e2", group "g1", item "q1"`);
  });

  it('given a Parquet profile without entity_id first, when loaded, then the error names file and header', async () => {
    const files = await writeCsvs();
    const profiles = join(dir, 'p.parquet');
    const w = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema({ age: { type: 'INT64' }, entity_id: { type: 'UTF8' } }), profiles);
    await w.appendRow({ age: 1, entity_id: 'e1' });
    await w.close();
    await expect(loadDataset({ ...files, profiles })).rejects.toThrow(`${profiles}:1: the first column must be 'entity_id'; header found: "age","entity_id"`);
  });

  it('given a non-numeric Parquet value, when loaded, then the error names the parquet row', async () => {
    const files = await writeCsvs();
    const responses = join(dir, 'r.parquet');
    const w = await parquet.ParquetWriter.openFile(
      new parquet.ParquetSchema({ entity_id: { type: 'UTF8' }, group: { type: 'UTF8' }, item: { type: 'UTF8' }, value: { type: 'UTF8' } }),
      responses,
    );
    await w.appendRow({ entity_id: 'e1', group: 'g1', item: 'q1', value: 'n/a' });
    await w.close();
    await expect(loadDataset({ ...files, responses })).rejects.toThrow(`${responses}:2 (parquet row 1) column 'value' (4): non-numeric value "n/a" for entity "e1"`);
  });
});

describe('hashes', () => {
  it('given a file, when hashed, then it is the sha256 of its bytes; datasetHash combines the two hex hashes', async () => {
    const files = await writeCsvs();
    expect(await hashFile(files.items)).toBe(require('node:crypto').createHash('sha256').update(ITEMS_CSV).digest('hex'));
    expect(datasetHash('aa', 'bb')).toBe(require('node:crypto').createHash('sha256').update('aabb').digest('hex'));
    await expect(hashFile(join(dir, 'nope.csv'))).rejects.toThrow('nope.csv');
  });
});
