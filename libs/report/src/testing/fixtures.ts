import { mulberry32 } from '@assay/data';
import { compareCodeUnits, groupEntityKey, itemKey } from '@assay/contracts';
import { compareWorstFirst } from '@assay/evaluation';
import type { ItemKind, ParseStatus } from '@assay/contracts';
import type {
  EvaluationResult,
  MethodScores,
  MetricDefinition,
  ScoreSummary,
  ValueRange,
} from '../../../evaluation/src/types';
import type { PredictionRow, RunReport } from '../types';

/**
 * RunReport fixtures for the writer's tests and the timing script. Scores are computed here with
 * a deliberately tiny stand-in for evaluate() (normalized MAE and counts only): the writer only
 * lays them out, it never recomputes them.
 */

export interface ItemSpec {
  group: string;
  item: string;
  kind: ItemKind;
  min: number;
  max: number;
}

/** Deterministic pseudo-random numbers: fixtures must not depend on Math.random. */
export const rng = mulberry32;

function summarize(rows: readonly PredictionRow[]): ScoreSummary {
  const scored = rows.filter((r) => r.parseStatus === 'ok' && r.predicted !== null);
  const nmae =
    scored.length === 0
      ? null
      : scored.reduce((s, r) => s + Math.abs((r.predicted as number) - r.actual) / (r.max - r.min), 0) / scored.length;
  const metrics: ScoreSummary['metrics'] = { normalized_mae: { value: nmae, n: scored.length } };
  const binary = scored.filter((r) => r.kind === 'binary');
  if (binary.length > 0) {
    metrics['binary.accuracy'] = { value: binary.filter((r) => r.predicted === r.actual).length / binary.length, n: binary.length };
    metrics['binary.predicted_positive_rate'] = { value: binary.filter((r) => r.predicted === 1).length / binary.length, n: binary.length };
  }
  const ordinal = scored.filter((r) => r.kind === 'ordinal');
  if (ordinal.length > 0) {
    metrics['ordinal.mae'] = { value: ordinal.reduce((s, r) => s + Math.abs((r.predicted as number) - r.actual), 0) / ordinal.length, n: ordinal.length };
  }
  return {
    n: rows.length,
    nScored: scored.length,
    parseFailures: rows.filter((r) => r.parseStatus === 'parse_failure').length,
    inferenceFailures: rows.filter((r) => r.parseStatus === 'inference_failure').length,
    outliers: rows.filter((r) => r.outlier).length,
    primary: { name: 'normalized_mae', value: nmae, higherIsBetter: false },
    metrics,
  };
}

function groupBy<T>(values: readonly T[], key: (v: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const v of values) {
    const k = key(v);
    const list = out.get(k);
    if (list) list.push(v);
    else out.set(k, [v]);
  }
  return out;
}


export function scoreMethod(method: string, rows: readonly PredictionRow[]): MethodScores {
  const byGroup = [...groupBy(rows, (r) => r.group)]
    .map(([group, rs]) => ({ group, summary: summarize(rs) }))
    .sort((a, b) => compareWorstFirst(a.summary.primary.value, b.summary.primary.value) || compareCodeUnits(a.group, b.group));
  const byItem = [...groupBy(rows, (r) => itemKey(r.group, r.item))]
    .map(([, rs]) => ({ group: rs[0].group, item: rs[0].item, kind: rs[0].kind, summary: summarize(rs) }))
    .sort((a, b) => compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item));
  const byEntity = [...groupBy(rows, (r) => groupEntityKey(r.group, r.entityId))]
    .map(([, rs]) => ({ group: rs[0].group, entityId: rs[0].entityId, summary: summarize(rs) }))
    .sort((a, b) => compareCodeUnits(a.group, b.group) || compareWorstFirst(a.summary.primary.value, b.summary.primary.value) || compareCodeUnits(a.entityId, b.entityId));
  return { method, overall: summarize(rows), byGroup, byItem, byEntity };
}

const DEFINITIONS: MetricDefinition[] = [
  { name: 'normalized_mae', kinds: 'all', higherIsBetter: false, description: 'mean |predicted - actual| / (max - min)' },
  { name: 'accuracy', kinds: ['binary'], higherIsBetter: true, description: 'share of exact matches' },
  { name: 'mae', kinds: ['ordinal', 'continuous'], higherIsBetter: false, description: 'mean absolute error in scale units' },
  { name: 'predicted_positive_rate', kinds: ['binary'], higherIsBetter: null, description: 'share of yes predictions' },
];

export function evaluationFor(method: string, rows: readonly PredictionRow[]): EvaluationResult {
  const meanBaseline = rows.map((r) => {
    const predicted = (r.min + r.max) / 2;
    return { ...r, predicted, absError: Math.abs(predicted - r.actual), parseStatus: 'ok' as ParseStatus, outlier: false };
  });
  const valueRanges: ValueRange[] = [...groupBy(rows, (r) => r.group)].map(([group, rs]) => {
    const actual = rs.map((r) => r.actual);
    const predicted = rs.flatMap((r) => (r.predicted === null ? [] : [r.predicted]));
    const stats = (v: number[]) =>
      v.length === 0
        ? { min: null, max: null, mean: null, std: null, n: 0 }
        : { min: Math.min(...v), max: Math.max(...v), mean: v.reduce((s, x) => s + x, 0) / v.length, std: null, n: v.length };
    return { group, itemMin: Math.min(...rs.map((r) => r.min)), itemMax: Math.max(...rs.map((r) => r.max)), actual: stats(actual), predicted: stats(predicted) };
  });
  const scores = scoreMethod(method, rows);
  const failureRate = scores.overall.n === 0 ? 0 : scores.overall.parseFailures / scores.overall.n;
  return {
    evaluatorVersion: 'fixture-1',
    method: scores,
    baselines: [scoreMethod('mean', meanBaseline)],
    valueRanges,
    definitions: DEFINITIONS,
    review: [
      { check: 'parse failure rate', status: failureRate > 0.05 ? 'fail' : failureRate > 0.01 ? 'warn' : 'pass', detail: `${(failureRate * 100).toFixed(2)}%` },
      { check: 'baseline ranking', status: 'pass', detail: 'beats the mean baseline' },
      { check: 'Spot-check LLM input/output files', status: 'todo', detail: 'read these: a.txt, b.txt' },
    ],
  };
}

const WORDS = (
  'the a respondent answered question strongly agree disagree neither often rarely never always ' +
  'work family health money friends trust government satisfied life years children school time ' +
  'somewhat very not important most least feel think people country future past week month'
).split(' ');

/** Entity-specific prose-like text: compresses like real prompts, unlike one repeated sentence. */
function filler(random: () => number, chars: number): string {
  let out = '';
  while (out.length < chars) {
    const q = Math.floor(random() * 1000);
    out += `Q${q}: ${Array.from({ length: 6 + Math.floor(random() * 8) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ')}? A: ${Math.floor(random() * 7) + 1}\n`;
  }
  return out.slice(0, chars);
}

export interface ReportOptions {
  entities: string[];
  items: ItemSpec[];
  /** Characters of the shared per-entity prefix (prompt size). */
  prefixChars?: number;
  seed?: number;
  method?: string;
}

/** A complete RunReport over entities x items; rows are returned shuffled, as the writer must not rely on order. */
export function makeRunReport(options: ReportOptions): RunReport {
  const random = rng(options.seed ?? 1);
  const method = options.method ?? 'llm-zero-shot';
  const prefixes = new Map<string, string>();
  const rows: PredictionRow[] = [];
  const call = { model: 'Qwen/Qwen2.5-7B-Instruct', loraAdapter: null, temperature: 0, maxTokens: 16, seed: 42, stop: ['\n'], guidedJson: false };
  const startMs = Date.parse('2025-01-01T00:01:00.000Z');
  options.entities.forEach((entityId, e) => {
    const prefixId = `prefix-${e}`;
    prefixes.set(prefixId, `<|im_start|>system\nPredict the answers of respondent ${entityId}.<|im_end|>\n<|im_start|>user\n${filler(random, options.prefixChars ?? 400)}\n`);
    options.items.forEach((spec, i) => {
      const actual = spec.kind === 'continuous' ? Math.round((spec.min + random() * (spec.max - spec.min)) * 100) / 100 : spec.min + Math.floor(random() * (spec.max - spec.min + 1));
      const roll = random();
      // Roughly 3% parse and 2% inference failures, plus one of each at fixed places so small
      // fixtures always exercise both paths.
      const forced: ParseStatus | null = e === 1 && i === 0 ? 'inference_failure' : e === 2 && i === 1 ? 'parse_failure' : null;
      const parseStatus: ParseStatus = forced ?? (roll < 0.03 ? 'parse_failure' : roll < 0.05 ? 'inference_failure' : 'ok');
      let predicted: number | null = null;
      if (parseStatus === 'ok') {
        predicted = roll > 0.97 ? spec.max + 2 : spec.kind === 'continuous' ? Math.round((spec.min + random() * (spec.max - spec.min)) * 1000) / 1000 : spec.min + Math.floor(random() * (spec.max - spec.min + 1));
      }
      const inferenceFailed = parseStatus === 'inference_failure';
      rows.push({
        entityId,
        group: spec.group,
        item: spec.item,
        kind: spec.kind,
        min: spec.min,
        max: spec.max,
        actual,
        predicted,
        absError: predicted === null ? null : Math.abs(predicted - actual),
        parseStatus,
        parseError: parseStatus === 'parse_failure' ? 'no number found in output' : null,
        outlier: predicted !== null && (predicted < spec.min || predicted > spec.max),
        promptId: `p-${e}-${i}`,
        prefixId,
        suffix: `Question (${spec.item}): how would they answer, on a scale from ${spec.min} to ${spec.max}?<|im_end|>\n<|im_start|>assistant\n`,
        outputText: inferenceFailed ? null : parseStatus === 'parse_failure' ? '=SUM(A1) I cannot say, "really"' : `Answer: ${predicted}`,
        promptTokens: inferenceFailed ? null : 100 + i,
        completionTokens: inferenceFailed ? null : 5,
        cachedTokens: inferenceFailed ? null : i === 0 ? 0 : 96,
        latencyMs: inferenceFailed ? null : 12.5 + i,
        attempts: inferenceFailed ? 3 : 1,
        worker: inferenceFailed ? null : `worker-${e % 2}`,
        inferenceError: inferenceFailed ? 'HTTP 503 from vLLM after 3 attempts' : null,
        // The forced parse failure is an answer cut off at max_tokens; the others stopped on their own.
        finishReason: inferenceFailed ? null : e === 2 && i === 1 ? 'length' : 'stop',
        call,
        fitted: null,
        // An inference failure here is a batch that failed as a whole: no call result at all.
        replica: inferenceFailed ? null : `http://gpu-${e % 2}:8000/v1`,
        failoverFrom: null,
        startedAt: inferenceFailed ? null : new Date(startMs + (e * options.items.length + i) * 1000).toISOString(),
        finishedAt: inferenceFailed ? null : new Date(startMs + (e * options.items.length + i) * 1000 + 250).toISOString(),
      });
    });
  });
  // Fisher-Yates with the seeded generator: a fixed, non-sorted order.
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  const groups = [...new Set(options.items.map((i) => i.group))].sort(compareCodeUnits);
  return {
    identity: '3f2a9c1d_abc1234',
    method,
    methodLabel: method,
    attempt: 1,
    evaluationRound: { round: 1, evaluatorVersion: 'eval/v1', evaluatorCodeVersion: 'abc1234', evaluatedAt: '2025-01-01T00:10:00.000Z', reason: null },
    configYaml: `method: ${method}\nmodel:\n  id: Qwen/Qwen2.5-7B-Instruct\n  temperature: 0\n`,
    config: { method, model: { id: 'Qwen/Qwen2.5-7B-Instruct', temperature: 0 } },
    metadata: { codeVersion: 'abc1234', identity: '3f2a9c1d_abc1234', startedAt: '2025-01-01T00:00:00.000Z', warnings: [] },
    warnings: [],
    scope: {
      dataFiles: [
        { role: 'responses', path: 'data/responses.csv', sha256: 'a'.repeat(64) },
        { role: 'items', path: 'data/items.csv', sha256: 'b'.repeat(64) },
      ],
      split: { path: 'data/split.json', sha256: 'c'.repeat(64), seed: 42, testFraction: 0.2, train: options.entities.length * 4, test: options.entities.length },
      entities: options.entities.length,
      items: options.items.length,
      groups,
    },
    model: { id: 'Qwen/Qwen2.5-7B-Instruct', mode: 'zero-shot', adapter: null, chatTemplate: 'builtin:chatml', temperature: 0, maxTokens: 16 },
    purpose: 'Can a zero-shot LLM predict survey answers better than the scale midpoint?',
    evaluation: evaluationFor(method, rows),
    cache: { hitRate: 0.8123, idealHitRate: 0.9, promptTokens: 123456, cachedTokens: 100284 },
    comparison: [
      { identity: '11111111_abc1234', method: 'llm-icl', status: 'completed', primary: 0.21 },
      { identity: '22222222_abc1234', method: 'llm-sft', status: 'failed', primary: null },
    ],
    prefixes,
    rows,
  };
}

/** Ids chosen to break naive path, CSV and case handling. */
export const HOSTILE_ITEMS: ItemSpec[] = [
  { group: 'Big Five/..', item: 'summary', kind: 'ordinal', min: 1, max: 5 },
  { group: 'Big Five/..', item: 'Q1', kind: 'ordinal', min: 1, max: 5 },
  { group: 'Big Five/..', item: 'q1', kind: 'binary', min: 0, max: 1 },
  { group: 'A', item: 'x,"y"', kind: 'continuous', min: -10, max: 10 },
  { group: 'A', item: 'i'.repeat(300), kind: 'binary', min: 0, max: 1 },
  { group: 'a', item: 'con', kind: 'ordinal', min: 0, max: 3 },
  { group: 'a', item: '..', kind: 'binary', min: 0, max: 1 },
];

export const HOSTILE_ENTITIES = ['..', '.', 'P 1', 'Ünïcödé-名前', 'x,"y"', 'A', 'a', '=cmd', '-5', 'nul', 'trailing. ', 'tab\there', 'e/../../etc'];

export function hostileReport(seed = 7): RunReport {
  return makeRunReport({ entities: HOSTILE_ENTITIES, items: HOSTILE_ITEMS, seed });
}
