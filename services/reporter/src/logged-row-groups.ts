import { compareCodeUnits, type InferenceBatchRequested, type InferenceCompleted, type ItemDef } from '@assay/contracts';
import { EventStore, findEventsOfBatches, forEachEventPage } from '@assay/event-store';
import { asPrediction, groupRowsOf, samplesOf, type AttemptCompletions, type GroupSlice, type ScoredPrediction } from '@assay/experiments';
import type { PairedSide } from '@assay/comparison';
import { TextSpool, type PrefixLookup, type RowGroup, type RowGroups, type SpoolExtent } from '@assay/report';

/**
 * Events read per page. A request holds its entity's shared prefix (~12 KB on the bench), so a
 * page of them is a few MB.
 */
const PAGE = 200;

/** One attempt's full phase, one evaluation round of it: where its rows are in the log, and how they are made. */
export interface RowsOfAttempt {
  stream: string;
  attempt: number;
  round: number;
  method: string;
  fitted: boolean;
  items: readonly ItemDef[];
  groups: readonly string[];
  completions: AttemptCompletions;
}

/** One page's model calls of one group, as spooled: requests without their prefixes, each batch's last completion cut to the group's results. */
interface SpooledCalls {
  requests: InferenceBatchRequested[];
  completions: InferenceCompleted[];
}

/**
 * An attempt's rows read from the log in one pass and handed on a group at a time (RowGroups).
 * The writer needs them group after group (each group's files, both parquet files in group order),
 * while the log holds them batch after batch, each batch spanning every group. Reading the log
 * once per group made Postgres read every event once per group; instead one pass spools each
 * page's slice of every group to a temporary file (TextSpool), and the prefixes once per batch.
 * A group is then parsed back from the spool when its turn comes, and a prefix is read when a row
 * asks for it, so the reporter's heap holds one group's rows, never the run's, nor every prefix.
 * close() frees the spool.
 */
export class SpooledAttemptRows implements RowGroups {
  private constructor(
    private readonly spool: TextSpool,
    private readonly at: RowsOfAttempt,
    private readonly calls: ReadonlyMap<string, SpoolExtent[]>,
    /** The round's scored predictions, by group. */
    readonly predictions: SpooledPredictions,
    private readonly prefixes: PrefixLookup,
  ) {}

  static async read(store: EventStore, at: RowsOfAttempt): Promise<SpooledAttemptRows> {
    const spool = await TextSpool.create();
    try {
      const { stream, attempt, round } = at;
      const calls = new Map<string, SpoolExtent[]>();
      const prefixes = new Map<string, SpoolExtent>();
      await store.read((sql) =>
        forEachEventPage(sql, stream, 'inference.batch.requested', { attempt, phase: 'full' }, PAGE, async (page) => {
          const last = new Map<string, InferenceCompleted>();
          for (const c of await findEventsOfBatches(sql, stream, 'inference.completed', { attempt, phase: 'full' }, page.map((e) => e.data.batchId))) {
            // The batch's last completion, as the fold over all of them found it (a batch answered twice shows its last answer).
            if (c.id === at.completions.lastCompletionOf(c.data.batchId)) last.set(c.data.batchId, withoutPositions(c));
          }
          const byGroup = new Map<string, SpooledCalls>();
          for (const request of page) {
            prefixes.set(request.data.batchId, await spool.put(request.data.prefix));
            for (const part of callsByGroup(withoutPositions(request), last.get(request.data.batchId))) {
              const spooled = byGroup.get(part.group) ?? { requests: [], completions: [] };
              spooled.requests.push(part.request);
              if (part.completion !== undefined) spooled.completions.push(part.completion);
              byGroup.set(part.group, spooled);
            }
          }
          for (const [group, spooled] of byGroup) appendTo(calls, group, await spool.put(JSON.stringify(spooled)));
        }),
      );
      const scored = await SpooledPredictions.read(store, spool, stream, { attempt, round });
      return new SpooledAttemptRows(spool, at, calls, scored, new SpooledPrefixes(spool, prefixes));
    } catch (error) {
      await spool.close();
      throw error;
    }
  }

  get anyFailover(): boolean {
    return this.at.completions.anyFailover();
  }

  async *groups(): AsyncIterable<RowGroup> {
    for (const group of [...new Set(this.at.groups)].sort(compareCodeUnits)) {
      const slice = await this.sliceOf(group);
      if (slice.requests.length === 0 && slice.predictions.length === 0) continue;
      yield { ...groupRowsOf(slice, this.at), prefixes: this.prefixes };
    }
  }

  close(): Promise<void> {
    return this.spool.close();
  }

  private async sliceOf(group: string): Promise<GroupSlice> {
    const requests: InferenceBatchRequested[] = [];
    const completions = new Map<string, InferenceCompleted>();
    for (const extent of this.calls.get(group) ?? []) {
      const spooled = JSON.parse(await this.spool.get(extent)) as SpooledCalls;
      for (const r of spooled.requests) requests.push(r);
      for (const c of spooled.completions) completions.set(c.data.batchId, c);
    }
    return { requests, completions, predictions: await this.predictions.of(group) };
  }
}

/** A request's prompts of each group (its prefix left out: it is spooled once), with the completion's results of those prompts. */
function callsByGroup(request: InferenceBatchRequested, completion: InferenceCompleted | undefined): Array<{ group: string; request: InferenceBatchRequested; completion?: InferenceCompleted }> {
  const prompts = new Map<string, InferenceBatchRequested['data']['prompts']>();
  for (const p of request.data.prompts) appendTo(prompts, p.group, p);
  return [...prompts].map(([group, ofGroup]) => {
    const ids = new Set(ofGroup.map((p) => p.promptId));
    return {
      group,
      request: { ...request, data: { ...request.data, prefix: '', prompts: ofGroup } },
      completion: completion && { ...completion, data: { ...completion.data, results: completion.data.results.filter((r) => ids.has(r.promptId)) } },
    };
  });
}

/** Prefixes read from the spool as rows ask for them; an entity's rows come together and share one, so the last is kept. */
class SpooledPrefixes implements PrefixLookup {
  private last: { id: string; text: string } | null = null;

  constructor(
    private readonly spool: TextSpool,
    private readonly extents: ReadonlyMap<string, SpoolExtent>,
  ) {}

  get(id: string): string | undefined {
    if (this.last?.id === id) return this.last.text;
    const extent = this.extents.get(id);
    if (extent === undefined) return undefined;
    this.last = { id, text: this.spool.getSync(extent) };
    return this.last.text;
  }
}

/** A run's scored predictions (an attempt's evaluation round) spooled by group in one pass over the log. */
export class SpooledPredictions {
  private constructor(
    private readonly spool: TextSpool,
    private readonly byGroup: ReadonlyMap<string, SpoolExtent[]>,
  ) {}

  static async read(store: EventStore, spool: TextSpool, stream: string, shown: { attempt: number; round: number }): Promise<SpooledPredictions> {
    const byGroup = new Map<string, SpoolExtent[]>();
    await store.read((sql) =>
      forEachEventPage(sql, stream, 'evaluation.batch.scored', { attempt: shown.attempt, phase: 'full', round: shown.round }, PAGE, async (page) => {
        const ofPage = new Map<string, ScoredPrediction[]>();
        for (const e of page) for (const p of e.data.predictions) appendTo(ofPage, p.group, p);
        for (const [group, predictions] of ofPage) appendTo(byGroup, group, await spool.put(JSON.stringify(predictions)));
      }),
    );
    return new SpooledPredictions(spool, byGroup);
  }

  /** One group's predictions, in log order. */
  async of(group: string): Promise<ScoredPrediction[]> {
    const predictions: ScoredPrediction[] = [];
    for (const extent of this.byGroup.get(group) ?? []) for (const p of JSON.parse(await this.spool.get(extent)) as ScoredPrediction[]) predictions.push(p);
    return predictions;
  }
}

/** Adds a run's scored predictions to a PairedSide, one group at a time (each group once, in code-unit order). */
export async function addPairedGroups(side: PairedSide, predictions: SpooledPredictions, groups: readonly string[]): Promise<void> {
  for (const group of [...new Set(groups)].sort(compareCodeUnits)) {
    const ofGroup = await predictions.of(group);
    side.addGroup(group, samplesOf(ofGroup), ofGroup.map(asPrediction));
  }
}

function appendTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const values = map.get(key);
  if (values === undefined) map.set(key, [value]);
  else values.push(value);
}

/** The event as it was appended, without where the log put it (what a spool keeps: bigints do not go into JSON). */
function withoutPositions<E extends object>(event: E & { streamPosition: bigint; globalPosition: bigint }): E {
  const { streamPosition: _stream, globalPosition: _global, ...appended } = event;
  return appended as E;
}
