import { compareCodeUnits, itemKey, Prediction as PredictionSchema, sampleKey } from '@assay/contracts';
import type { ItemDef, Prediction } from '@assay/contracts';
import { assertAllFinite } from './guard';

export interface SmokeCheck {
  check: string;
  passed: boolean;
  detail: string;
}

export interface SmokeResult {
  passed: boolean;
  checks: SmokeCheck[];
}

const SHOW = 3;

function listed(problems: string[]): string {
  const sorted = [...problems].sort(compareCodeUnits);
  return sorted.slice(0, SHOW).join('; ') + (sorted.length > SHOW ? `; ... (${sorted.length} in all)` : '');
}

/** What makes one prediction malformed, or null when it is well-formed. */
function schemaProblem(p: Prediction, itemKeys: Set<string>): string | null {
  const parsed = PredictionSchema.safeParse(p);
  const key = sampleKey(p);
  if (!parsed.success) return `${key}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join(', ')}`;
  if (!itemKeys.has(itemKey(p.group, p.item))) return `${key}: unknown item`;
  if (p.parseStatus === 'ok' && (p.predicted === null || !Number.isFinite(p.predicted))) return `${key}: parsed but no finite value`;
  if (p.parseStatus !== 'ok' && (p.parseError === undefined || p.parseError === '')) return `${key}: ${p.parseStatus} without a reason`;
  return null;
}

/**
 * A smoke test before the full run: the handful of smoke examples must come through the whole
 * pipeline well-formed before the full run starts (a broken prompt or parser costs minutes, not
 * a night of GPU time). Any failed check stops the run; the details say what to look at.
 */
export function smokeChecks(args: { predictions: Prediction[]; items: ItemDef[] }): SmokeResult {
  const { predictions, items } = args;
  const itemKeys = new Set(items.map((it) => itemKey(it.group, it.item)));
  const checks: SmokeCheck[] = [];

  const malformed: string[] = [];
  for (const p of predictions) {
    const problem = schemaProblem(p, itemKeys);
    if (problem !== null) malformed.push(problem);
  }
  checks.push(
    predictions.length === 0
      ? { check: 'output schema valid', passed: false, detail: 'no predictions' }
      : {
          check: 'output schema valid',
          passed: malformed.length === 0,
          detail: malformed.length === 0 ? `${predictions.length} of ${predictions.length} predictions well-formed` : `${malformed.length} of ${predictions.length} malformed: ${listed(malformed)}`,
        },
  );

  const unparsed = predictions.filter((p) => p.parseStatus !== 'ok').map((p) => `${sampleKey(p)}: ${p.parseStatus}: ${p.parseError ?? ''}`);
  checks.push({
    check: 'all answers parse',
    passed: predictions.length > 0 && unparsed.length === 0,
    detail: predictions.length === 0 ? 'no predictions' : unparsed.length === 0 ? `${predictions.length} of ${predictions.length} parsed` : `${unparsed.length} of ${predictions.length} not parsed: ${listed(unparsed)}`,
  });

  const values: number[] = [];
  for (const p of predictions) if (p.parseStatus === 'ok' && typeof p.predicted === 'number' && Number.isFinite(p.predicted)) values.push(p.predicted);
  const identical = values.length >= 2 && values.every((v) => v === values[0]);
  checks.push({
    check: 'predictions not all identical',
    passed: !identical,
    detail:
      values.length < 2
        ? `not applicable: ${values.length} usable prediction(s), 2 needed`
        : identical
          ? `all ${values.length} predictions are ${values[0]}`
          : `${new Set(values).size} distinct values among ${values.length}`,
  });

  const nonFinite = predictions.filter((p) => typeof p.predicted === 'number' && !Number.isFinite(p.predicted)).map((p) => `${sampleKey(p)}: ${String(p.predicted)}`);
  checks.push({
    check: 'no NaN predictions',
    passed: nonFinite.length === 0,
    detail: nonFinite.length === 0 ? 'no NaN or infinite value' : `${nonFinite.length} NaN or infinite: ${listed(nonFinite)}`,
  });

  const result = { passed: checks.every((c) => c.passed), checks };
  assertAllFinite(result, 'smokeChecks');
  return result;
}
