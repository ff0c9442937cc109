import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parquet = require('parquetjs-lite');
import parquetShredder = require('parquetjs-lite/lib/shred');
import parquetPlain = require('parquetjs-lite/lib/codec/plain');
import { encodePlainByteArray, libraryPlainEncode, libraryShredRecord, ParquetFileWriter, PrefixedText, PrefixEncoder, PREDICTIONS_COLUMNS, RAW_OUTPUTS_COLUMNS, shredFlatRecord, type ParquetValue } from './parquet';
import { readParquet } from './testing/read-parquet';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'assay-parquet-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const schema = new parquet.ParquetSchema({
  name: { type: 'UTF8', statistics: false },
  note: { type: 'UTF8', optional: true, statistics: false },
  score: { type: 'DOUBLE', optional: true, statistics: true },
  count: { type: 'INT64', statistics: true },
  flag: { type: 'BOOLEAN', statistics: true },
});

const records: Array<Record<string, unknown>> = [
  { name: Buffer.from('é ✓ prompt', 'utf8'), note: 'a string', score: 0.1 + 0.2, count: 3, flag: true },
  { name: Buffer.from(''), note: null, score: -0, count: 0, flag: false },
  { name: 'plain string', score: null, count: 2 ** 53 - 1, flag: true },
  { name: Buffer.from('x'), note: undefined, score: -1e-300, count: -7, flag: false },
];

describe('shredFlatRecord', () => {
  it('fills the row buffer as the library does (text without statistics kept as given, to be encoded once), without Sets for columns with no statistics', () => {
    const ours: Record<string, any> = {};
    const theirs: Record<string, any> = {};
    for (const r of records) {
      shredFlatRecord(schema, r, ours);
      libraryShredRecord(schema, r, theirs);
    }
    expect(ours.rowCount).toBe(theirs.rowCount);
    expect(ours.pageRowCount).toBe(theirs.pageRowCount);
    expect(Object.keys(ours.pages)).toEqual(Object.keys(theirs.pages));
    for (const column of Object.keys(theirs.columnData)) {
      const [a, b] = [ours.columnData[column], theirs.columnData[column]];
      const asBytes = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
      expect({ column, ...a, values: a.values.map(asBytes), distinct_values: null }).toEqual({ column, ...b, distinct_values: null });
      const withStatistics = column === 'score' || column === 'count' || column === 'flag';
      expect([...a.distinct_values]).toEqual(withStatistics ? [...b.distinct_values] : []);
    }
    // -0 goes through the library's conversion (parseFloat of its string), as before: 0.
    expect(Object.is(ours.columnData.score.values[1], 0)).toBe(true);
  });

  it('leaves the buffer untouched when a row is bad', () => {
    const buffer: Record<string, any> = {};
    shredFlatRecord(schema, records[0], buffer);
    expect(() => shredFlatRecord(schema, { note: 'no name', count: 1, flag: true }, buffer)).toThrow('missing required field: name');
    expect(() => shredFlatRecord(schema, { name: 'n', count: 'many', flag: true }, buffer)).toThrow();
    expect(buffer.rowCount).toBe(1);
    expect(buffer.columnData.name.values).toHaveLength(1);
    expect(buffer.columnData.count.dlevels).toHaveLength(1);
  });
});

describe('encodePlainByteArray', () => {
  it('encodes strings and Buffers to the bytes the library writes for them', () => {
    const values = ['é ✓ prompt', '', Buffer.from('bytes'), '\u{1f600} and a lone surrogate \ud800', Buffer.alloc(0), 'x'.repeat(70000)];
    expect(encodePlainByteArray(values).equals(libraryPlainEncode('BYTE_ARRAY', values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v)), {}))).toBe(true);
  });

  it('names a value that is neither text nor bytes', () => {
    expect(() => encodePlainByteArray(['ok', 7])).toThrow('parquet BYTE_ARRAY value must be a string, a Buffer or a PrefixedText, got number');
  });
});

describe('ParquetFileWriter', () => {
  const rows: Array<Record<string, ParquetValue>> = Array.from({ length: 2500 }, (_, i) => ({
    entity_id: `e${i % 37}`,
    group: `g${i % 3}`,
    item: `item ✓ ${i}`,
    prompt_id: `p${i}`,
    // Both sides of the short/long text threshold.
    input_text: `shared prefix ${'x'.repeat(i % 500)} suffix ${i}`,
    output_text: i % 11 === 0 ? null : String(i / 7),
    prompt_tokens: i,
    completion_tokens: i % 5 === 0 ? null : 8,
    cached_tokens: 0,
    latency_ms: i / 3,
    attempts: 1 + (i % 2),
    worker: i % 13 === 0 ? null : 'worker-1',
    inference_error: i % 11 === 0 ? 'HTTP 500' : null,
    finish_reason: i % 11 === 0 ? null : i % 17 === 0 ? 'length' : 'stop',
    model: 'sim/llm-8b',
    lora_adapter: null,
    temperature: 0.7,
    max_tokens: 16,
    seed: 42,
    stop: '["\\n"]',
    guided_json: false,
    replica: 'http://127.0.0.1:8011/v1',
    started_at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    finished_at: i % 19 === 0 ? null : new Date(Date.UTC(2026, 0, 1) + i * 1000 + 500).toISOString(),
  }));

  async function write(path: string): Promise<string> {
    const writer = await ParquetFileWriter.open(path, RAW_OUTPUTS_COLUMNS);
    for (const row of rows) await writer.append(row);
    await writer.close();
    return writer.sha256();
  }

  it('writes the same bytes as with the library shredder and encoder, hashed as written, over several row groups', async () => {
    const fast = join(root, 'fast.parquet');
    const slow = join(root, 'slow.parquet');
    const fastHash = await write(fast);
    const [patchedShred, patchedEncode] = [parquetShredder.shredRecord, parquetPlain.encodeValues];
    parquetShredder.shredRecord = libraryShredRecord;
    parquetPlain.encodeValues = libraryPlainEncode;
    try {
      await write(slow);
    } finally {
      parquetShredder.shredRecord = patchedShred;
      parquetPlain.encodeValues = patchedEncode;
    }
    const bytes = await readFile(fast);
    expect(bytes.equals(await readFile(slow))).toBe(true);
    expect(fastHash).toBe(createHash('sha256').update(bytes).digest('hex'));
    const read = readParquet(fast);
    expect(read.rowGroups).toBe(3);
    expect(read.rows).toHaveLength(rows.length);
    expect(read.rows[11]).toMatchObject({ item: 'item ✓ 11', output_text: null, inference_error: 'HTTP 500', prompt_tokens: { $bigint: '11' } });
  });

  it('given prompts as prefix + suffix (PrefixEncoder), then the bytes of the joined texts, over several row groups', async () => {
    // Heads shared by runs of rows, multi-byte text on both sides, an empty tail, and a head
    // ending in half a surrogate pair whose other half starts the tail.
    const heads = ['shared prefix é ✓ '.repeat(40), 'another entity 🙂 ', 'short', 'pair split \ud83d', ''];
    const tails = (i: number) => (i % 5 === 3 ? '\ude42 then text' : i % 7 === 0 ? '' : `suffix ✓ ${i}`);
    const headOf = (i: number) => heads[Math.floor(i / 300) % heads.length];
    const joined = join(root, 'joined.parquet');
    const prefixed = join(root, 'prefixed.parquet');
    const whole = await ParquetFileWriter.open(joined, RAW_OUTPUTS_COLUMNS);
    const parts = await ParquetFileWriter.open(prefixed, RAW_OUTPUTS_COLUMNS);
    const encoder = new PrefixEncoder();
    for (const [i, row] of rows.entries()) {
      await whole.append({ ...row, input_text: headOf(i) + tails(i) });
      await parts.append({ ...row, input_text: encoder.text(headOf(i), tails(i)) });
    }
    await whole.close();
    await parts.close();
    expect((await readFile(prefixed)).equals(await readFile(joined))).toBe(true);
    const read = readParquet(prefixed).rows;
    expect(read[1].input_text).toBe(heads[0] + 'suffix ✓ 1');
    expect(read[903].input_text).toBe('pair split 🙂 then text');
  });

  it('given values that share a head, then PrefixEncoder encodes it once, and again when it changes', () => {
    const encoder = new PrefixEncoder();
    const [a, b, c] = [encoder.text('head ✓', 'x'), encoder.text('head ✓', 'y'), encoder.text('other', 'z')];
    expect(a).toBeInstanceOf(PrefixedText);
    expect((a as PrefixedText).head).toBe((b as PrefixedText).head);
    expect((a as PrefixedText).head.toString('utf8')).toBe('head ✓');
    expect((c as PrefixedText).head.toString('utf8')).toBe('other');
    expect(encoder.text('half \ud83d', '\ude42')).toBe('half \ud83d\ude42');
  });

  it('given text in a column that is not text, then an error naming the file and the column', async () => {
    const path = join(root, 'text-in-number.parquet');
    const writer = await ParquetFileWriter.open(path, PREDICTIONS_COLUMNS);
    const row = { entity_id: 'e', group: 'g', item: 'i', kind: 'binary', actual: new PrefixEncoder().text('a', 'b'), predicted: 1, abs_error: 0, parse_status: 'ok', outlier: false };
    await expect(writer.append(row)).rejects.toThrow(`${path}: column actual is DOUBLE, got text`);
    await writer.abort();
  });

  it('has no hash before the file is closed', async () => {
    const writer = await ParquetFileWriter.open(join(root, 'open.parquet'), RAW_OUTPUTS_COLUMNS);
    expect(() => writer.sha256()).toThrow(/needs the file closed first/);
    await writer.close();
  });

  it('given a file just opened (its header write still in flight), when aborted, then no unhandled rejection ends the process', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      for (let i = 0; i < 20; i++) {
        const writer = await ParquetFileWriter.open(join(root, `at-once-${i}.parquet`), RAW_OUTPUTS_COLUMNS);
        await writer.abort();
        expect(() => writer.sha256()).toThrow();
      }
      // abort() resolves on the stream's 'close', after the destroyed write's callback ran; an
      // unhandled rejection of that tick is reported before the next macrotask.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });

  it('given a row group written, when aborted, then the handle is released without a footer, and there is no hash', async () => {
    const path = join(root, 'aborted.parquet');
    const writer = await ParquetFileWriter.open(path, RAW_OUTPUTS_COLUMNS);
    for (const row of rows.slice(0, 1500)) await writer.append(row);
    await writer.abort();
    await writer.abort(); // a second abort is a no-op
    expect(() => writer.sha256()).toThrow(/needs the file closed first/);
    const bytes = await readFile(path);
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect(bytes.subarray(-4).toString()).not.toBe('PAR1');
  });
});
