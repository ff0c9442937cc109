import { compareCodeUnits, itemKey, type InferenceBatchRequested, type InferenceCompleted, type ItemDef } from '@assay/contracts';
import { EventStore, findEventsOfBatches, forEachEventPage } from '@assay/event-store';
import { asPrediction, entityScoresOf, samplesOf, sliceRowsOf, type AttemptCompletions, type ScoredPrediction } from '@assay/experiments';
import type { PairedSide } from '@assay/comparison';
import type { EntityScore } from '@assay/evaluation';
import { TextSpool, type PredictionRow, type PrefixLookup, type RowGroup, type RowGroups, type SpoolExtent } from '@assay/report';

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

/** One batch's model calls of one group, as spooled: the request without its prefix, its last completion cut to the group's results. */
interface SpooledCall {
  request: InferenceBatchRequested;
  completion?: InferenceCompleted;
}

/**
 * An attempt's rows read from the log in one pass and handed on a group at a time, an entity at a
 * time (RowGroups). The writer needs them group after group (each group's files, both parquet
 * files in group order), entity after entity, while the log holds them batch after batch, each
 * batch spanning every group. Reading the log once per group made Postgres read every event once
 * per group; instead one pass spools each batch's slice of every group to a temporary file
 * (TextSpool), and the prefixes once per batch. An entity's rows are then parsed back from the
 * spool when its turn comes, and a prefix is read when a row asks for it, so the reporter's heap
 * holds one entity's rows (and a group's scored predictions while its entity scores are made),
 * never a group's rows or the run's, nor every prefix. close() frees the spool.
 */
export class SpooledAttemptRows implements RowGroups {
  private readonly items: ReadonlyMap<string, ItemDef>;

  private constructor(
    private readonly spool: TextSpool,
    private readonly at: RowsOfAttempt,
    /** Each group's calls, by entity. */
    private readonly calls: ReadonlyMap<string, Map<string, SpoolExtent[]>>,
    /** The round's scored predictions, by group. */
    readonly predictions: SpooledPredictions,
    private readonly prefixes: PrefixLookup,
  ) {
    this.items = new Map(at.items.map((i) => [itemKey(i.group, i.item), i]));
  }

  static async read(store: EventStore, at: RowsOfAttempt): Promise<SpooledAttemptRows> {
    const spool = await TextSpool.create();
    try {
      const { stream, attempt, round } = at;
      const calls = new Map<string, Map<string, SpoolExtent[]>>();
      const prefixes = new Map<string, SpoolExtent>();
      await store.read((sql) =>
        forEachEventPage(sql, stream, 'inference.batch.requested', { attempt, phase: 'full' }, PAGE, async (page) => {
          const last = new Map<string, InferenceCompleted>();
          for (const c of await findEventsOfBatches(sql, stream, 'inference.completed', { attempt, phase: 'full' }, page.map((e) => e.data.batchId))) {
            // The batch's last completion, as the fold over all of them found it (a batch answered twice shows its last answer).
            if (c.id === at.completions.lastCompletionOf(c.data.batchId)) last.set(c.data.batchId, withoutPositions(c));
          }
          // One write per page: the prefixes, then every batch's slice of every group.
          const texts: string[] = [];
          const places: Array<{ group: string; entityId: string } | { prefixOf: string }> = [];
          for (const request of page) {
            texts.push(request.data.prefix);
            places.push({ prefixOf: request.data.batchId });
            for (const part of callsByGroup(withoutPositions(request), last.get(request.data.batchId))) {
              texts.push(JSON.stringify({ request: part.request, completion: part.completion } satisfies SpooledCall));
              places.push({ group: part.group, entityId: request.data.entityId });
            }
          }
          const extents = await spool.putAll(texts);
          places.forEach((place, i) => {
            if ('prefixOf' in place) prefixes.set(place.prefixOf, extents[i]);
            else appendTo(nestedMap(calls, place.group), place.entityId, extents[i]);
          });
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
      // A fitted method's rows are its predictions; a model's, its calls' prompts.
      const entityIds = [...(this.at.fitted ? this.predictions.entitiesOf(group) : (this.calls.get(group)?.keys() ?? []))].sort(compareCodeUnits);
      if (entityIds.length === 0) continue;
      yield { group, entityIds, entities: () => this.entitiesOf(group, entityIds), prefixes: this.prefixes, entityScores: this.groupEntityScores(group) };
    }
  }

  /**
   * The method's per-entity scores of one group, from the group's scored predictions. A function of
   * its own, not a local of groups(): a generator's locals live while it waits at `yield`, and the
   * group's predictions (56k at ten times the bench's size) would be held while the group is written.
   */
  private groupEntityScores(group: string): EntityScore[] {
    // One per prompt (a prompt scored twice counts with its last prediction), as the rows have them.
    const predictions = [...new Map(this.predictions.of(group).map((p) => [p.promptId, p])).values()];
    return predictions.length === 0 ? [] : entityScoresOf(this.at.method, predictions, this.at.items);
  }

  close(): Promise<void> {
    return this.spool.close();
  }

  private async *entitiesOf(group: string, entityIds: readonly string[]): AsyncIterable<PredictionRow[]> {
    const calls = this.calls.get(group);
    for (const entityId of entityIds) {
      const requests: InferenceBatchRequested[] = [];
      const completions = new Map<string, InferenceCompleted>();
      for (const extent of calls?.get(entityId) ?? []) {
        // Small reads of what was just written (the page cache): a thread-pool hop each cost more than the read.
        const spooled = JSON.parse(this.spool.getSync(extent)) as SpooledCall;
        requests.push(spooled.request);
        if (spooled.completion !== undefined) completions.set(spooled.completion.data.batchId, spooled.completion);
      }
      const predictions = this.predictions.ofEntity(group, entityId);
      yield sliceRowsOf({ requests, completions, predictions }, { fitted: this.at.fitted, items: this.items, round: this.at.round });
    }
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

/** A run's scored predictions (an attempt's evaluation round) spooled by group and entity in one pass over the log. */
export class SpooledPredictions {
  private constructor(
    private readonly spool: TextSpool,
    /** Each group's scored batches, in log order, with their entity. */
    private readonly byGroup: ReadonlyMap<string, Array<{ entityId: string; extent: SpoolExtent }>>,
    /** The same by entity. */
    private readonly byEntity: ReadonlyMap<string, Map<string, SpoolExtent[]>>,
  ) {}

  static async read(store: EventStore, spool: TextSpool, stream: string, shown: { attempt: number; round: number }): Promise<SpooledPredictions> {
    const byGroup = new Map<string, Array<{ entityId: string; extent: SpoolExtent }>>();
    const byEntity = new Map<string, Map<string, SpoolExtent[]>>();
    await store.read((sql) =>
      forEachEventPage(sql, stream, 'evaluation.batch.scored', { attempt: shown.attempt, phase: 'full', round: shown.round }, PAGE, async (page) => {
        const parts: Array<{ group: string; entityId: string; predictions: ScoredPrediction[] }> = [];
        for (const e of page) {
          // A batch is one entity's (an entity may have several batches): its slice of each group.
          const ofEvent = new Map<string, { group: string; entityId: string; predictions: ScoredPrediction[] }>();
          for (const p of e.data.predictions) {
            const key = JSON.stringify([p.group, p.entityId]);
            const part = ofEvent.get(key) ?? { group: p.group, entityId: p.entityId, predictions: [] };
            part.predictions.push(p);
            ofEvent.set(key, part);
          }
          for (const part of ofEvent.values()) parts.push(part);
        }
        const extents = await spool.putAll(parts.map((part) => JSON.stringify(part.predictions)));
        parts.forEach(({ group, entityId }, i) => {
          appendTo(byGroup, group, { entityId, extent: extents[i] });
          appendTo(nestedMap(byEntity, group), entityId, extents[i]);
        });
      }),
    );
    return new SpooledPredictions(spool, byGroup, byEntity);
  }

  /** One group's predictions, in log order. */
  of(group: string): ScoredPrediction[] {
    return this.predictionsIn((this.byGroup.get(group) ?? []).map((b) => b.extent));
  }

  /** One entity's predictions of a group, in log order. */
  ofEntity(group: string, entityId: string): ScoredPrediction[] {
    return this.predictionsIn(this.byEntity.get(group)?.get(entityId) ?? []);
  }

  /** The entities with predictions in a group. */
  entitiesOf(group: string): Iterable<string> {
    return this.byEntity.get(group)?.keys() ?? [];
  }

  /** A group's or an entity's batches: small reads of what was just written (the page cache), without a thread-pool hop each. */
  private predictionsIn(extents: readonly SpoolExtent[]): ScoredPrediction[] {
    const predictions: ScoredPrediction[] = [];
    for (const extent of extents) for (const p of JSON.parse(this.spool.getSync(extent)) as ScoredPrediction[]) predictions.push(p);
    return predictions;
  }
}

/** Adds a run's scored predictions to a PairedSide, one group at a time (each group once, in code-unit order). */
export function addPairedGroups(side: PairedSide, predictions: SpooledPredictions, groups: readonly string[]): void {
  for (const group of [...new Set(groups)].sort(compareCodeUnits)) {
    const ofGroup = predictions.of(group);
    side.addGroup(group, samplesOf(ofGroup), ofGroup.map(asPrediction));
  }
}

/** The map under `key`, made when missing. */
function nestedMap<K, K2, V>(map: Map<K, Map<K2, V>>, key: K): Map<K2, V> {
  let inner = map.get(key);
  if (inner === undefined) map.set(key, (inner = new Map()));
  return inner;
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
