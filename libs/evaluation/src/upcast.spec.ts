import { METRIC_DEFINITIONS } from './metrics';
import type { EvaluationResult, MetricDefinition } from './types';
import { upcastEvaluationResult } from './upcast';

const logged = (definitions: MetricDefinition[], review: EvaluationResult['review']): EvaluationResult =>
  ({ evaluatorVersion: 'eval/v2', method: {} as EvaluationResult['method'], baselines: [], valueRanges: [], definitions, review });

describe('upcastEvaluationResult', () => {
  it('given positive-rate definitions logged as "lower is better", when read, then they have no better direction', () => {
    const old = METRIC_DEFINITIONS.map((d) => (d.higherIsBetter === null ? { ...d, higherIsBetter: false } : d));
    const read = upcastEvaluationResult(logged(old, []));
    expect(read.definitions).toEqual(METRIC_DEFINITIONS);
    expect(read.definitions.filter((d) => d.higherIsBetter === null).map((d) => d.name)).toEqual(['predicted_positive_rate', 'actual_positive_rate', 'variance_ratio']);
  });

  it('given a metric with a real direction, when read, then its direction is kept as logged', () => {
    const mae = METRIC_DEFINITIONS.find((d) => d.name === 'mae')!;
    expect(upcastEvaluationResult(logged([mae], [])).definitions).toEqual([mae]);
  });

  it('given the spot-check logged as pass and the notes reminder as warn, when read, then both are to-dos', () => {
    const read = upcastEvaluationResult(
      logged([], [
        { check: 'Outliers', status: 'warn', detail: 'x' },
        { check: 'Spot-check LLM input/output files', status: 'pass', detail: 'for a human to read: a.txt' },
        { check: 'Update experiment notes with findings', status: 'warn', detail: 'a human must record findings' },
      ]),
    );
    expect(read.review.map((l) => l.status)).toEqual(['warn', 'todo', 'todo']);
  });
});
