import { existsSync, mkdtempSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParquetFileWriter, PREDICTIONS_COLUMNS, RAW_OUTPUTS_COLUMNS, type ParquetValue } from './parquet';
import { ParquetThread } from './parquet-thread';
import { readParquet } from './testing/read-parquet';
import { outputNotWritable } from './unwritable';

// The thread runs compiled code: this spec needs `npm run build` (the README's test command runs it first).
const THREAD = join(__dirname, '../../../dist/libs/report/src/parquet-encoder.thread.js');

let root: string;
let thread: ParquetThread;
beforeAll(() => {
  if (!existsSync(THREAD)) throw new Error(`${THREAD} is missing: run npm run build first`);
  root = mkdtempSync(join(tmpdir(), 'assay-parquet-thread-'));
  thread = new ParquetThread(THREAD);
});
afterAll(async () => {
  await thread.terminate();
  await rm(root, { recursive: true, force: true });
});

/** Three row groups of raw outputs, with texts on both sides of the short/long threshold and nulls. */
const rows: Array<Record<string, ParquetValue>> = Array.from({ length: 2300 }, (_, i) => ({
  entity_id: `e${i % 37}`,
  group: `g${i % 3}`,
  item: `item ✓ ${i}`,
  prompt_id: `p${i}`,
  input_text: `shared prefix ${'x'.repeat((i * 37) % 13000)} suffix ${i}`,
  output_text: i % 11 === 0 ? null : String(i / 7),
  prompt_tokens: i,
  completion_tokens: i % 5 === 0 ? null : 8,
  cached_tokens: 0,
  latency_ms: i / 3,
  attempts: 1 + (i % 2),
  worker: 'worker-1',
  inference_error: i % 11 === 0 ? 'HTTP 500' : null,
  finish_reason: 'stop',
  model: 'sim/llm-8b',
  lora_adapter: null,
  temperature: 0.7,
  max_tokens: 16,
  seed: 42,
  stop: '["\\n"]',
  guided_json: false,
  replica: null,
  started_at: null,
  finished_at: null,
}));

const prediction = (i: number): Record<string, ParquetValue> => ({
  entity_id: `e${i}`, group: 'g', item: 'q1', kind: 'ordinal', actual: i % 5, predicted: i % 7 === 0 ? null : i % 4, abs_error: i % 7 === 0 ? null : Math.abs((i % 5) - (i % 4)), parse_status: i % 7 === 0 ? 'parse_failure' : 'ok', outlier: false,
});

function fdsOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // readdir's own fd, closed by now
      throw error;
    }
  }).length;
}

describe('ParquetThread', () => {
  it('given two files written at once, then each has the bytes ParquetFileWriter writes in-process, and its sha256', async () => {
    const [onThread, inProcess] = [join(root, 'thread.parquet'), join(root, 'in-process.parquet')];
    const [predictionsOnThread, predictionsInProcess] = [join(root, 'p-thread.parquet'), join(root, 'p-in-process.parquet')];
    const raw = thread.open(onThread, RAW_OUTPUTS_COLUMNS);
    const predictions = thread.open(predictionsOnThread, PREDICTIONS_COLUMNS);
    const [rawHere, predictionsHere] = [await ParquetFileWriter.open(inProcess, RAW_OUTPUTS_COLUMNS), await ParquetFileWriter.open(predictionsInProcess, PREDICTIONS_COLUMNS)];
    for (const [i, row] of rows.entries()) {
      await raw.append(row);
      await rawHere.append(row);
      await predictions.append(prediction(i));
      await predictionsHere.append(prediction(i));
    }
    expect(() => raw.sha256()).toThrow(/needs the file closed first/);
    for (const w of [raw, rawHere, predictions, predictionsHere]) await w.close();
    expect((await readFile(onThread)).equals(await readFile(inProcess))).toBe(true);
    expect((await readFile(predictionsOnThread)).equals(await readFile(predictionsInProcess))).toBe(true);
    expect(raw.sha256()).toBe(rawHere.sha256());
    expect(predictions.sha256()).toBe(predictionsHere.sha256());
    expect(readParquet(onThread).rowGroups).toBe(3);
  });

  it('given a required column without a value, then the next call throws the writer error naming the file and column, and later calls too', async () => {
    const path = join(root, 'bad.parquet');
    const writer = thread.open(path, PREDICTIONS_COLUMNS);
    await writer.append({ ...prediction(1), kind: null });
    await expect(writer.close()).rejects.toThrow(`${path}: required column kind is null`);
    await expect(writer.append(prediction(2))).rejects.toThrow('required column kind is null');
    expect(fdsOn(path)).toBe(0);
  });

  it('given a folder that cannot be made (a file in the way), then the OS error keeps its code and path, as outputNotWritable needs', async () => {
    writeFileSync(join(root, 'in-the-way'), '');
    const writer = thread.open(join(root, 'in-the-way', 'x.parquet'), PREDICTIONS_COLUMNS);
    const error = await writer.close().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'ENOTDIR', path: join(root, 'in-the-way', 'x.parquet') });
    expect(outputNotWritable(error, 'the run directory')).toMatch(/^cannot write the run directory: ENOTDIR/);
  });

  it('given rows written, when aborted, then the thread releases the handle and leaves no footer, and there is no hash', async () => {
    const path = join(root, 'aborted.parquet');
    const writer = thread.open(path, RAW_OUTPUTS_COLUMNS);
    for (const row of rows.slice(0, 1500)) await writer.append(row);
    await writer.abort();
    await writer.abort(); // a second abort is a no-op
    expect(() => writer.sha256()).toThrow(/needs the file closed first/);
    expect(fdsOn(path)).toBe(0);
    expect((await readFile(path)).subarray(-4).toString()).not.toBe('PAR1');
  });

  it('given the thread stopped, then a file still open fails with a reason instead of waiting', async () => {
    const own = new ParquetThread(THREAD);
    const writer = own.open(join(root, 'stopped.parquet'), PREDICTIONS_COLUMNS);
    await writer.append(prediction(1));
    await own.terminate();
    await expect(writer.close()).rejects.toThrow(/stopped\.parquet: parquet thread exited \(code \d+\)/);
    await writer.abort(); // nothing left to release: returns
  });

  it('given no build, then a clear error', () => {
    expect(() => new ParquetThread(join(root, 'missing.js'))).toThrow('parquet thread: ' + join(root, 'missing.js') + ' does not exist (build the project: npm run build)');
  });
});
