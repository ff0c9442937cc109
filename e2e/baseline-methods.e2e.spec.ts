import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { sampleKey, type EvaluationBatchScored, type Prediction, type Sample } from '@assay/contracts';
import { loadDataset, loadSplit, observationsWhere, type Observation } from '@assay/data';
import { linearBaseline, majorityBaseline, nearestNeighbourBaseline, trainMeanBaseline } from '@assay/evaluation';
import { callUrl } from '../libs/viewer/src/urls';
import { REPO_ROOT, simulatorStats, startStack, type Stack } from '../libs/testing/src/fixtures/stack';

/**
 * The four baselines as methods of their own, through the four services: each run has its own
 * identity and run directory, makes no model call (the model server is stopped first), predicts
 * exactly what the in-evaluation baselines predict on the same split, and writes per-prediction
 * files with METADATA and what the method used. A fit that cannot succeed fails the run with its
 * reason instead of leaving it running.
 */
jest.setTimeout(180_000);

const SAMPLE = join(REPO_ROOT, 'data', 'sample');
const BASELINES = ['baseline_train_mean', 'baseline_majority', 'baseline_knn', 'baseline_linear'] as const;

function itemFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return itemFiles(path);
    return name.endsWith('.txt') && name !== 'summary.txt' ? [path] : [];
  });
}

describe('baselines as methods, end to end', () => {
  let stack: Stack;
  let db: Client;
  beforeAll(async () => {
    stack = await startStack({ workers: 1 });
    db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
  }, 180_000);
  afterAll(async () => {
    await db?.end();
    await stack?.stop();
  });

  const writeBaselineConfig = (name: string, method: string, extra: Record<string, unknown> = {}, data = SAMPLE, split = join(SAMPLE, 'split.json')) => {
    const path = join(stack.logDir, `${name}.yaml`);
    const config = {
      name,
      method,
      data: { profiles: join(data, 'profiles.csv'), responses: join(data, 'responses.csv'), items: join(data, 'items.csv'), split },
      output_root: join(stack.logDir, 'runs'),
      ...extra,
    };
    writeFileSync(path, stringify(config));
    return path;
  };

  const scoredOf = async (identity: string): Promise<Prediction[]> => {
    const rows = (await db.query(`SELECT data FROM events WHERE stream = $1 AND type = 'evaluation.batch.scored' ORDER BY global_position`, [`experiment-${identity}`])).rows as Array<{ data: EvaluationBatchScored['data'] }>;
    return rows.flatMap((r) => r.data.predictions.map(({ promptId: _p, actual: _a, ...p }) => p));
  };

  /** The in-evaluation baselines' predictions (what an LLM run shows beside itself) on the same split. */
  const inEvaluation = async (): Promise<Record<(typeof BASELINES)[number], Prediction[]>> => {
    const dataset = await loadDataset({ profiles: join(SAMPLE, 'profiles.csv'), responses: join(SAMPLE, 'responses.csv'), items: join(SAMPLE, 'items.csv') });
    const { split } = await loadSplit(join(SAMPLE, 'split.json'), dataset.entities.map((e) => e.entityId));
    const train = new Set(split.train);
    const test = new Set(split.test);
    const sample = (o: Observation): Sample => ({ entityId: o.entityId, group: o.group, item: o.item, actual: o.value });
    const args = {
      trainSamples: observationsWhere(dataset.observations, (o) => train.has(o.entityId)).map(sample),
      testSamples: observationsWhere(dataset.observations, (o) => test.has(o.entityId)).map(sample),
      items: dataset.items,
      features: new Map(dataset.entities.map((e) => [e.entityId, e])),
    };
    return {
      baseline_train_mean: trainMeanBaseline(args),
      baseline_majority: majorityBaseline(args),
      baseline_knn: nearestNeighbourBaseline({ ...args, k: 5 }),
      baseline_linear: linearBaseline(args),
    };
  };

  it('runs each baseline with its own identity and no model server, predicting what the in-evaluation baselines predict, with METADATA files', async () => {
    // No model server at all: a baseline must not need one.
    const before = (await simulatorStats(stack)).requests;
    stack.processes.get('simulator')!.kill('SIGTERM');
    const expected = await inEvaluation();
    const identities = new Set<string>();
    for (const method of BASELINES) {
      const path = writeBaselineConfig(`e2e-${method}`, method, method === 'baseline_knn' ? { baseline_knn: { k: 5, metric: 'euclidean' } } : {});
      const r = await stack.cli(['run', path]);
      if (r.code !== 0) throw new Error(`${method}: assay exited ${r.code}:\n${r.stderr}`);
      const runDir = r.stdout.trim().split('\n').pop()!;
      const identity = runDir.split('/').pop()!;
      identities.add(identity);
      expect(runDir).toContain(`/${method}/`);

      const predictions = await scoredOf(identity);
      const want = new Map(expected[method].map((p) => [sampleKey(p), p]));
      expect(predictions).toHaveLength(want.size);
      for (const p of predictions) {
        const w = want.get(sampleKey(p))!;
        expect({ method: p.method, status: p.parseStatus }).toEqual({ method, status: w.parseStatus });
        expect(p.predicted).toBe(w.predicted);
      }

      // Same shape as any run: README, metadata, metrics, the per-prediction tree.
      for (const file of ['README.txt', 'metadata.json', 'metrics.json', 'config.yaml', 'predictions.parquet', 'raw_outputs.parquet']) expect(statSync(join(runDir, file)).isFile()).toBe(true);
      const readme = readFileSync(join(runDir, 'README.txt'), 'utf8');
      expect(readme).not.toMatch(/prefix-cache|hit rate/i);
      const labels: Record<string, string> = { baseline_train_mean: 'baseline: train mean', baseline_majority: 'baseline: majority', baseline_knn: 'baseline: kNN (k=5)', baseline_linear: 'baseline: linear (ridge / logistic)' };
      expect(readme).toContain(`None: ${method} (${labels[method]}) is fitted on the train split (no model calls).`);
      expect((JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8')) as { model: unknown }).model).toBeNull();

      const files = itemFiles(join(runDir, 'groups'));
      expect(files).toHaveLength(want.size);
      const text = readFileSync(files[0], 'utf8');
      expect(text.startsWith('=== METADATA ===\n')).toBe(true);
      expect(text).toContain(`\nmethod: ${method} (fitted on the train split, no model call)\n`);
      expect(text).toContain('\n=== WHAT THE METHOD USED ===\n');
      expect(text).not.toContain('=== INPUT ===');
      expect(text).not.toContain('=== OUTPUT ===');
      if (method === 'baseline_knn') expect(text).toMatch(/\nneighbourAnswers: \[[-0-9.]+(,[-0-9.]+){4}\]\nneighbours: \["[^"]+"(,"[^"]+"){4}\]\n/);
      if (method === 'baseline_train_mean') expect(text).toMatch(/\nnTrain: \d+\nstatistic: "(mean|majority)"\n/);
      if (method === 'baseline_majority') expect(text).toMatch(/\nnTrain: \d+\nvotes: \d+\n/);
      if (method === 'baseline_linear') expect(text).toMatch(/\nmodel: "(ridge|logistic)"\n/);

      if (method === 'baseline_knn') {
        // The viewer's call page renders a baseline prediction (what it used, no INPUT/OUTPUT).
        const p = predictions.find((x) => x.parseStatus === 'ok')!;
        const page = await fetch(`http://127.0.0.1:${stack.httpPort}${callUrl(identity, p.group, p.entityId, p.item)}`);
        expect(page.status).toBe(200);
        const html = await page.text();
        expect(html).toContain('<h2>WHAT THE METHOD USED</h2>');
        expect(html).not.toContain('<h2>INPUT</h2>');
      }
    }
    expect(identities.size).toBe(BASELINES.length);
    // The stopped simulator counted nothing more (it answered nothing: it was not there).
    expect(before).toBe(0);
  });

  it('refuses a baseline config with a model section, naming the key, before anything runs', async () => {
    const path = writeBaselineConfig('e2e-baseline-with-model', 'baseline_train_mean', { model: { id: 'sim/llm-8b', base_url: stack.simulatorUrl } });
    const r = await stack.cli(['run', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("key 'model' in");
    expect(r.stderr).toContain("method 'baseline_train_mean' is fitted on the train split and asks no model, so the 'model' section must be removed");
  });

  it('fails the run with the fit\'s reason when the fit cannot succeed (no usable feature), never leaving it running', async () => {
    const data = mkdtempSync(join(tmpdir(), 'assay-baseline-'));
    cpSync(SAMPLE, data, { recursive: true });
    const ids = readFileSync(join(SAMPLE, 'profiles.csv'), 'utf8').trim().split('\n').slice(1).map((line) => line.split(',')[0]);
    writeFileSync(join(data, 'profiles.csv'), `entity_id,constant\n${ids.map((id) => `${id},1`).join('\n')}\n`);
    const path = writeBaselineConfig('e2e-baseline-no-feature', 'baseline_knn', {}, data, join(data, 'split-new.json'));
    const r = await stack.cli(['run', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/FAILED at evaluation/);
    expect(r.stderr).toMatch(/evaluator gave up on experiment\.started [0-9a-f-]+: .*baseline_knn fit failed: kNN baseline: no usable feature/);
    const failed = (await db.query(`SELECT data FROM events WHERE type = 'experiment.failed' AND data->>'identity' IS NOT NULL`)).rows as Array<{ data: { stage: string; error: string } }>;
    expect(failed.map((f) => f.data.stage)).toEqual(['evaluation']);
  });
});
