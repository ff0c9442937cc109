import type { ItemDef, ModelCallSettings, PromptRequest } from '@assay/contracts';
import { entityOf, type Entity } from '@assay/data';
import { buildEntityPrompts, DEFAULT_PROMPT_TEMPLATES, loadChatTemplate } from '@assay/prompting';
import type { LatencyModel } from '../../testing/src/simulator';

/** Test fixtures shared by the inference integration tests (not exported from the lib). */

export const SIM_MODEL = 'sim/llm-8b';

/** GPU_LIKE_LATENCY's shape, ten times faster, so a file stays within seconds. */
export const FAST_GPU_LATENCY: LatencyModel = { prefillMsPerToken: 0.05, decodeMsPerToken: 5, maxNumSeqs: 64 };

export function modelSettings(baseUrl: string, over: Partial<ModelCallSettings> = {}): ModelCallSettings {
  return {
    id: SIM_MODEL,
    baseUrl,
    apiKeyEnv: null,
    temperature: 0,
    maxTokens: 8,
    seed: 7,
    stop: [],
    guidedJson: false,
    loraAdapter: null,
    requestTimeoutS: 10,
    maxRetries: 3,
    concurrency: 8,
    ...over,
  };
}

/** `count` items of one group, as items.csv would list them. */
export function items(count: number): ItemDef[] {
  return Array.from({ length: count }, (_, i) => ({
    group: 'survey',
    item: `q${String(i + 1).padStart(2, '0')}`,
    question: `How much do you agree with statement ${i + 1}?`,
    min: 1,
    max: 5,
    kind: 'ordinal' as const,
  }));
}

/** An entity with a long profile (~features lines), values varying by entity. */
export function entity(id: string, features = 60): Entity {
  let seed = 17;
  for (const ch of id) seed = (seed * 31 + ch.charCodeAt(0)) % 100_003;
  // The first feature differs between entities, so no two entities share more than the system prompt.
  return entityOf(id, Array.from({ length: features }, (_, i): [string, string] => [`feature_${i + 1}`, String((seed * (i + 3)) % 997)]));
}

/** One entity's prompts as the planner sends them: the shared prefix, then PromptRequests. */
export function entityBatch(id: string, itemCount: number, features = 60): { entityId: string; prefix: string; prompts: PromptRequest[] } {
  const built = buildEntityPrompts(entity(id, features), items(itemCount), DEFAULT_PROMPT_TEMPLATES, loadChatTemplate('builtin:chatml'));
  return { entityId: id, prefix: built.prefix, prompts: built.prompts.map((p, i) => ({ ...p, actual: (i % 5) + 1 })) };
}
