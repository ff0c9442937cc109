import { compareCodeUnits } from '@assay/contracts';
import { commonPrefixLength } from '@assay/prompting';

/**
 * The ideal prefix-cache hit rate: an upper bound on the prompt tokens any dispatch order could
 * find cached, so a run can approach it but never pass it.
 *
 * A prompt can only find cached what an earlier prompt shares with it from the start. So:
 * - a prompt of an entity reuses at most the entity prefix plus the part of its suffix it shares
 *   with the entity's other prompt whose suffix shares the most (items often start alike:
 *   "Question about <group>: ...");
 * - whichever of the entity's prompts the server sees first finds at most what it shares with
 *   another entity's prompt (the head of the prefix other entities' prefixes also start with:
 *   the system prompt, the first feature names), unless an identical prefix was sent before (the
 *   smoke test sends the first entity's prefix, a twin entity may have the same profile): then
 *   no deduction, and prompts sent before may be found whole;
 * - no prompt reuses more than its own tokens.
 * Tokens are the server's (/tokenize): the prefix, its head, and each shared suffix start are
 * counted apart, which never undercounts the tokens of their concatenation in a BPE-style
 * tokenizer (merges across the joint only lower it); the tokens the server puts before every
 * prompt (a BOS) are shared by all and added to the prefix and its head. The cache is taken to
 * hold nothing of the run's prompts at its start except what the run itself sent before.
 *
 * With the server's block size known (vLLM's vllm:cache_config_info), each prompt's bound is
 * that of a vLLM block cache: whole blocks only, and never the prompt's last token (vLLM always
 * computes it again for the logits), so the ideal is one a block cache can reach rather than one
 * a block or so per prompt above it. Without it, tokens count exactly and the last one too: still
 * a bound for any server, only looser.
 */

/** The most a prompt can find cached on a server with this block size (null: unknown, no rounding). */
export function cacheableTokens(sharedTokens: number, promptTokens: number, blockSize: number | null): number {
  const shared = Math.min(sharedTokens, promptTokens);
  if (blockSize === null) return shared;
  const upTo = Math.min(shared, promptTokens - 1);
  return upTo <= 0 ? 0 : Math.floor(upTo / blockSize) * blockSize;
}

/** Per string: the most characters it shares from its start with any other string of the list. */
export function sharedWithOthers(texts: readonly string[]): number[] {
  const shared = new Array<number>(texts.length).fill(0);
  // The string sharing the longest start with a given one is one of its neighbours in sorted order.
  const order = texts.map((_, i) => i).sort((a, b) => compareCodeUnits(texts[a], texts[b]));
  for (let k = 1; k < order.length; k++) {
    const a = order[k - 1];
    const b = order[k];
    const l = commonPrefixLength(texts[a], texts[b]);
    if (l > shared[a]) shared[a] = l;
    if (l > shared[b]) shared[b] = l;
  }
  return shared;
}

/** Per prompt of a batch: the start of its suffix it shares with another prompt of the batch (the text to count). */
export function sharedSuffixStarts(suffixes: readonly string[]): string[] {
  return sharedWithOthers(suffixes).map((n, i) => suffixes[i].slice(0, n));
}

export interface BatchIdealInput {
  /** Tokens of the entity prefix. */
  prefixTokens: number;
  /** Tokens of the prefix's start that another entity's prefix shares; null when the whole prefix may have been sent before. */
  headTokens: number | null;
  /** Per answered prompt: its prompt tokens, the tokens of its shared suffix start, and whether this exact prompt was sent before. */
  prompts: ReadonlyArray<{ promptTokens: number; sharedSuffixTokens: number; sentBefore: boolean }>;
  /** The server's cache block size in tokens; null when unknown (no rounding, see above). */
  blockSize: number | null;
}

/** The most prompt tokens of one batch any dispatch order could find cached (see above). */
export function idealBatchCachedTokens(input: BatchIdealInput): number {
  if (input.prompts.length === 0) return 0;
  let total = 0;
  let leastDeduction = Infinity;
  for (const p of input.prompts) {
    const shared = p.sentBefore ? p.promptTokens : input.prefixTokens + p.sharedSuffixTokens;
    const within = cacheableTokens(shared, p.promptTokens, input.blockSize);
    total += within;
    // Were this prompt the entity's first at the server: only the head could be cached for it.
    const asFirst = input.headTokens === null || p.sentBefore ? within : cacheableTokens(Math.min(shared, input.headTokens), p.promptTokens, input.blockSize);
    leastDeduction = Math.min(leastDeduction, within - asFirst);
  }
  return total - leastDeduction;
}

/** The texts whose token counts idealBatchCachedTokens needs, deduplicated (suffix starts repeat across entities). */
export function idealTexts(prefix: string, prefixSharedChars: number | null, suffixStarts: readonly string[]): { head: string | null; suffixStarts: string[] } {
  const head = prefixSharedChars === null || prefixSharedChars >= prefix.length ? null : prefix.slice(0, prefixSharedChars);
  return { head, suffixStarts: [...new Set(suffixStarts.filter((s) => s.length > 0))] };
}

/** What a batch request says for its ideal (the planner's fields; absent in older requests). */
export interface IdealBatch {
  prefix: string;
  prompts: ReadonlyArray<{ promptId: string; suffix: string }>;
  /** Characters of the prefix's start another entity's prefix of the plan shares. */
  prefixSharedChars?: number;
  /** Prompts of this batch sent earlier in the attempt (the smoke test's). */
  promptsSentBefore?: readonly string[];
}

/** Token counts a batch's ideal needs, counted while its prompts run. */
export interface IdealCounts {
  headTokens: number | null;
  /** Tokens the server adds before every prompt (a BOS): an empty text's count with special tokens. */
  leadingTokens: number;
  /** Per prompt of the batch, in its order. */
  sharedSuffixTokens: number[];
}

/** The upper bound's token counts, by the server's /tokenize; shared suffix starts are counted once per router (they repeat across entities). */
export class IdealCacheCounter {
  private readonly counted = new Map<string, Promise<number | null>>();

  constructor(
    private readonly countTokens: (text: string, addSpecialTokens?: boolean) => Promise<number | null>,
    private readonly maxRemembered = 50_000,
  ) {}

  /** Null when a count could not be had (the ideal is then unknown). */
  async counts(batch: IdealBatch): Promise<IdealCounts | null> {
    const starts = sharedSuffixStarts(batch.prompts.map((p) => p.suffix));
    const texts = idealTexts(batch.prefix, batch.prefixSharedChars ?? null, starts);
    const [leading, head, ...startCounts] = await Promise.all([
      this.leading(),
      texts.head === null ? Promise.resolve(null) : texts.head === '' ? Promise.resolve(0) : this.countTokens(texts.head),
      ...texts.suffixStarts.map((s) => this.count(s)),
    ]);
    if (leading === null) return null;
    if (texts.head !== null && head === null) return null;
    if (startCounts.some((c) => c === null)) return null;
    const byStart = new Map(texts.suffixStarts.map((s, i) => [s, startCounts[i] as number]));
    return { headTokens: head, leadingTokens: leading, sharedSuffixTokens: starts.map((s) => (s.length === 0 ? 0 : byStart.get(s)!)) };
  }

  /** Asked once per counter (one server's tokenizer); a failed count is asked again. */
  private leadingCount: Promise<number | null> | null = null;
  private leading(): Promise<number | null> {
    if (!this.leadingCount) {
      const count = this.countTokens('', true);
      this.leadingCount = count;
      const forget = () => (this.leadingCount = null);
      count.then((n) => n === null && forget(), forget);
    }
    return this.leadingCount;
  }

  private count(text: string): Promise<number | null> {
    let known = this.counted.get(text);
    if (!known) {
      if (this.counted.size >= this.maxRemembered) this.counted.clear();
      known = this.countTokens(text);
      this.counted.set(text, known);
      // A failed count is not remembered: the next batch asks again (the caller sees the failure itself).
      const forget = () => this.counted.delete(text);
      known.then((n) => n === null && forget(), forget);
    }
    return known;
  }
}

/** A batch's ideal cached tokens from its counts and its answered prompts; null when a count is missing. */
export function batchIdeal(
  batch: IdealBatch,
  prefixTokens: number | null,
  counts: IdealCounts | null,
  results: ReadonlyArray<{ promptId: string; status: 'ok' | 'error'; promptTokens: number | null }>,
  blockSize: number | null,
): number | null {
  if (prefixTokens === null || counts === null) return null;
  const sentBefore = new Set(batch.promptsSentBefore ?? []);
  const prefixRepeated = batch.prefixSharedChars === undefined ? false : batch.prefixSharedChars >= batch.prefix.length;
  const prompts: BatchIdealInput['prompts'][number][] = [];
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r.status !== 'ok' || r.promptTokens === null) continue;
    // An identical prefix of another entity: its prompt for the same item may be identical too.
    prompts.push({ promptTokens: r.promptTokens, sharedSuffixTokens: counts.sharedSuffixTokens[i], sentBefore: prefixRepeated || sentBefore.has(r.promptId) });
  }
  // An older request without the planner's head: no deduction for the first prompt (still a bound).
  const headTokens = batch.prefixSharedChars === undefined || counts.headTokens === null ? null : counts.leadingTokens + counts.headTokens;
  return idealBatchCachedTokens({ prefixTokens: counts.leadingTokens + prefixTokens, headTokens, prompts, blockSize });
}
