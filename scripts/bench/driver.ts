import { Semaphore } from '../../libs/inference/src/semaphore';
import type { SimulatorStats } from '../../libs/testing/src/simulator/metrics';
import { GPU_LIKE_LATENCY, type LatencyModel } from '../../libs/testing/src/simulator/scheduler';
import type { SimClient } from './sim';
import type { DriverPrompt } from './workload';

/**
 * A small client that sends prompts straight to a simulator (no pipeline), the way the worker
 * does (`/v1/completions`, the templated text as prompt, no special tokens), so prompt ORDER is
 * the only thing that differs between the contrast scenarios.
 */
export interface DriverOptions {
  url: string;
  client: SimClient;
  concurrency: number;
  maxTokens: number;
  /**
   * stream: the list as given, `concurrency` at a time (an entity's prompts go out together).
   * warm: an entity's first prompt alone, then the rest (the worker before its EntityPipeline); up to
   * `batchesInFlight` entities at once.
   */
  mode: 'stream' | 'warm';
  batchesInFlight?: number;
  /** Stop sending new prompts after this many seconds (those in flight finish). */
  capSeconds: number;
}

export interface DriverResult {
  sent: number;
  done: number;
  errors: number;
  seconds: number;
  capped: boolean;
  stats: SimulatorStats;
  /** Completion times (s since start), for steady-state rates. */
  completions: number[];
  /** Entity of every prompt sent, for the ideal hit rate of exactly what was sent. */
  sentEntities: number[];
  firstError?: string;
}

export async function complete(url: string, prompt: string, maxTokens: number): Promise<void> {
  const response = await fetch(`${url}/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim/llm-8b', prompt, max_tokens: maxTokens, temperature: 0, seed: 0, add_special_tokens: false }),
    signal: AbortSignal.timeout(300_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
}

export async function drive(prompts: DriverPrompt[], o: DriverOptions): Promise<DriverResult> {
  await o.client.reset();
  const began = performance.now();
  const elapsed = () => (performance.now() - began) / 1000;
  const deadline = began + o.capSeconds * 1000;
  const pool = new Semaphore(o.concurrency);
  const completions: number[] = [];
  let sent = 0;
  const sentEntities: number[] = [];
  let errors = 0;
  let capped = false;
  let firstError: string | undefined;
  const send = (p: DriverPrompt) =>
    pool.run(async () => {
      if (performance.now() > deadline) {
        capped = true;
        return;
      }
      sent++;
      sentEntities.push(p.entity);
      try {
        await complete(o.url, p.text, o.maxTokens);
        completions.push(elapsed());
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    });

  if (o.mode === 'stream') {
    await Promise.all(prompts.map(send));
  } else {
    const byEntity = new Map<number, DriverPrompt[]>();
    for (const p of prompts) {
      let list = byEntity.get(p.entity);
      if (!list) byEntity.set(p.entity, (list = []));
      list.push(p);
    }
    const queue = [...byEntity.values()];
    const lane = async () => {
      for (let batch = queue.shift(); batch; batch = queue.shift()) {
        if (performance.now() > deadline) {
          capped = true;
          return;
        }
        const [first, ...rest] = batch;
        await send(first);
        await Promise.all(rest.map(send));
      }
    };
    await Promise.all(Array.from({ length: o.batchesInFlight ?? 4 }, lane));
  }
  const seconds = elapsed();
  const stats = await o.client.stats();
  return { sent, done: completions.length, errors, seconds, capped, stats, completions, sentEntities, firstError };
}

/** Completions per second between the 10th and 90th percentile completion (ramp-up/down excluded). */
export function steadyRate(completions: number[]): number {
  const sorted = [...completions].sort((a, b) => a - b);
  if (sorted.length < 20) return sorted.length / (sorted[sorted.length - 1] || 1);
  const lo = Math.floor(sorted.length * 0.1);
  const hi = Math.floor(sorted.length * 0.9);
  return (hi - lo) / (sorted[hi] - sorted[lo]);
}

/**
 * The simulator's ceiling for this prompt mix: prompts whose entity prefix is already cached,
 * at twice max_num_seqs in flight so the engine's queue never runs dry. Entities are taken in
 * rounds that fit the cache: warm each entity's prefix (not timed), then time its other prompts.
 */
export async function saturatedThroughput(
  byEntity: DriverPrompt[][],
  o: { url: string; client: SimClient; concurrency: number; maxTokens: number; entitiesPerRound: number; budgetSeconds: number },
): Promise<{ rate: number; roundRate: number; prompts: number; seconds: number; hitRate: number; engineSeconds: number; rounds: number }> {
  let prompts = 0;
  let seconds = 0;
  let promptTokens = 0;
  let cachedTokens = 0;
  let engine = 0;
  let rounds = 0;
  const steady: number[] = [];
  for (let start = 0; start < byEntity.length && seconds < o.budgetSeconds; start += o.entitiesPerRound) {
    const round = byEntity.slice(start, start + o.entitiesPerRound);
    const pool = new Semaphore(o.concurrency);
    await Promise.all(round.map((batch) => pool.run(() => complete(o.url, batch[0].text, o.maxTokens))));
    const measured = round.flatMap((batch) => batch.slice(1));
    // Interleave entities, so the timed prompts do not depend on any order effect.
    measured.sort((a, b) => a.index - b.index || a.entity - b.entity);
    const r = await drive(measured, { url: o.url, client: o.client, concurrency: o.concurrency, maxTokens: o.maxTokens, mode: 'stream', capSeconds: 3600 });
    if (r.errors > 0) throw new Error(`saturation round: ${r.errors} requests failed: ${r.firstError}`);
    prompts += r.done;
    seconds += r.seconds;
    promptTokens += r.stats.promptTokens;
    cachedTokens += r.stats.cachedTokens;
    engine += engineSeconds(r.stats);
    steady.push(steadyRate(r.completions) * r.done);
    rounds++;
  }
  return {
    rate: steady.reduce((a, b) => a + b, 0) / prompts,
    roundRate: prompts / seconds,
    prompts,
    seconds,
    hitRate: cachedTokens / promptTokens,
    engineSeconds: engine,
    rounds,
  };
}

/**
 * Seconds the simulated engine needed for what the stats count, had all max_num_seqs slots been
 * busy: every request holds a slot for its uncached prefill plus its decode (scheduler.ts).
 * Divided by wall time, it is how full the slots were.
 */
export function engineSeconds(stats: SimulatorStats, latency: LatencyModel = GPU_LIKE_LATENCY): number {
  const slotMs = (stats.promptTokens - stats.cachedTokens) * latency.prefillMsPerToken + stats.completionTokens * latency.decodeMsPerToken;
  return slotMs / 1000 / latency.maxNumSeqs;
}
