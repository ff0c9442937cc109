import { compareCodeUnits, itemKey, type ItemDef, type Prediction, type Sample } from '@assay/contracts';
import type { RunReport, RunWideReport } from '@assay/report';
import type { ComparedRun } from './compare';

/** A run's report (as its directory shows it) as the comparison's input; status from the registry. */
export function comparedRunFromReport(report: RunWideReport & Pick<RunReport, 'rows'>, status: string): ComparedRun {
  const items = new Map<string, ItemDef>();
  const samples: Sample[] = [];
  const predictions: Prediction[] = [];
  for (const r of report.rows) {
    const key = itemKey(r.group, r.item);
    if (!items.has(key)) items.set(key, { group: r.group, item: r.item, question: '', min: r.min, max: r.max, kind: r.kind });
    samples.push({ entityId: r.entityId, group: r.group, item: r.item, actual: r.actual });
    predictions.push({
      entityId: r.entityId,
      group: r.group,
      item: r.item,
      method: report.method,
      predicted: r.predicted,
      parseStatus: r.parseStatus,
      ...(r.parseError === null ? {} : { parseError: r.parseError }),
      outlier: r.outlier,
      metadata: {},
    });
  }
  return {
    identity: report.identity,
    method: report.method,
    status,
    attempt: report.attempt,
    evaluationRound: report.evaluationRound.round,
    evaluatorVersion: report.evaluationRound.evaluatorVersion,
    config: report.config,
    dataHashes: report.metadata.dataHashes as Record<string, string>,
    items: [...items.values()].sort((a, b) => compareCodeUnits(itemKey(a.group, a.item), itemKey(b.group, b.item))),
    samples,
    predictions,
  };
}
