import { itemKey, type ItemDef } from '@assay/contracts';
import type { PlannedBatch, PlannedPrompt } from '../plan/prepare';

/** Takes one element from each list in turn, in list order, until all are used. */
function interleave<T>(lists: T[][]): T[] {
  const out: T[] = [];
  const total = lists.reduce((n, l) => n + l.length, 0);
  for (let round = 0; out.length < total; round++) {
    for (const list of lists) if (round < list.length) out.push(list[round]);
  }
  return out;
}

function groupBy<T>(values: T[], key: (v: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const v of values) {
    const k = key(v);
    const list = groups.get(k);
    if (list) list.push(v);
    else groups.set(k, [v]);
  }
  return [...groups.values()];
}

/**
 * The smoke test's examples: the first entity's prompts, varied so that "predictions
 * are not all identical" can pass on real data: item kinds in turn (binary, ordinal, continuous
 * answers differ in range), and within a kind the groups in turn. Kinds and groups are taken in
 * plan order, so the choice is the same on every run of the same plan.
 */
export function smokeBatch(batches: PlannedBatch[], examples: number, items: ItemDef[]): PlannedBatch {
  if (batches.length === 0) throw new Error('smokeBatch: the plan has no batches');
  if (!Number.isInteger(examples) || examples < 1) throw new Error(`smokeBatch: examples must be a positive integer, got ${examples}`);
  const first = batches[0];
  const kindOf = new Map(items.map((i) => [itemKey(i.group, i.item), i.kind]));
  const kind = (p: PlannedPrompt): string => {
    const k = kindOf.get(itemKey(p.group, p.item));
    if (k === undefined) throw new Error(`smokeBatch: planned item group ${JSON.stringify(p.group)} item ${JSON.stringify(p.item)} is not among the items`);
    return k;
  };
  const byKind = groupBy(first.prompts, kind).map((prompts) => interleave(groupBy(prompts, (p) => p.group)));
  const picked = interleave(byKind).slice(0, examples);
  return { batchId: `smoke:${first.batchId}`, entityId: first.entityId, prefix: first.prefix, prompts: picked, ...(first.examples === undefined ? {} : { examples: first.examples }) };
}
