import type { ExperimentConfig } from '@assay/config';
import { serverUrls } from '@assay/inference';
import { accessSync, constants, mkdirSync } from 'node:fs';
import type { PlannedBatch } from './prepare';
import { StageError } from './prepare';
import { errorMessage } from '@assay/contracts';


export interface ServerFacts {
  served: string[];
  maxModelLen: number | null;
}

async function fetchJson(url: string, init: RequestInit | undefined, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text for the error message.
  }
  return { status: response.status, body };
}

function headers(config: ExperimentConfig): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  const envName = config.model.api_key_env;
  if (envName) {
    const key = process.env[envName];
    if (!key) throw new StageError('preflight', `model.api_key_env names ${envName}, but it is not set in the planner's environment`);
    h.authorization = `Bearer ${key}`;
  }
  return h;
}

/** The endpoint answers and serves model.id (or the LoRA adapter), and tells its max_model_len. */
export async function checkModelServer(config: ExperimentConfig): Promise<ServerFacts> {
  const url = serverUrls(config.model.base_url).models;
  let result: { status: number; body: unknown };
  try {
    result = await fetchJson(url, { headers: headers(config) }, 10_000);
  } catch (error) {
    if (error instanceof StageError) throw error;
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? errorMessage(error);
    throw new StageError('preflight', `model.base_url: ${url} does not answer (${cause}); is the model server running?`);
  }
  if (result.status !== 200) throw new StageError('preflight', `model.base_url: GET ${url} answered ${result.status}: ${JSON.stringify(result.body).slice(0, 200)}`);
  const data = (result.body as { data?: Array<{ id: string; max_model_len?: number }> }).data ?? [];
  const served = data.map((m) => m.id);
  const wanted = config.model.lora_adapter ?? config.model.id;
  const key = config.model.lora_adapter ? 'model.lora_adapter' : 'model.id';
  const model = data.find((m) => m.id === wanted);
  if (!model) throw new StageError('preflight', `${key}: '${wanted}' is not served by ${config.model.base_url}; it serves: ${served.join(', ') || '(nothing)'}`);
  const base = data.find((m) => m.id === config.model.id) ?? model;
  return { served, maxModelLen: config.model.max_model_len ?? base.max_model_len ?? null };
}

/** Token count from the server's own tokenizer; null when it has no /tokenize (not vLLM). */
export async function countTokens(config: ExperimentConfig, prompt: string): Promise<number | null> {
  const result = await fetchJson(
    serverUrls(config.model.base_url).tokenize,
    { method: 'POST', headers: headers(config), body: JSON.stringify({ model: config.model.id, prompt, add_special_tokens: false }) },
    30_000,
  );
  if (result.status === 404) return null;
  if (result.status !== 200) throw new StageError('preflight', `/tokenize answered ${result.status}: ${JSON.stringify(result.body).slice(0, 200)}`);
  return (result.body as { count: number }).count;
}

/** The longest prompt plus max_tokens must fit max_model_len, or the server would refuse it mid-run. */
export async function checkLongestPrompt(config: ExperimentConfig, facts: ServerFacts, batches: PlannedBatch[]): Promise<string[]> {
  let longest = { length: -1, batch: batches[0], prompt: batches[0].prompts[0] };
  for (const b of batches) {
    for (const p of b.prompts) {
      const length = b.prefix.length + p.suffix.length;
      if (length > longest.length) longest = { length, batch: b, prompt: p };
    }
  }
  const text = longest.batch.prefix + longest.prompt.suffix;
  const tokens = await countTokens(config, text);
  const where = `entity ${JSON.stringify(longest.batch.entityId)}, item ${JSON.stringify(longest.prompt.item)}`;
  if (tokens === null) return [`the server has no /tokenize: the longest prompt (${where}, ${text.length} characters) was not checked against max_model_len`];
  if (facts.maxModelLen !== null && tokens + config.model.max_tokens > facts.maxModelLen) {
    throw new StageError(
      'preflight',
      `the longest prompt (${where}) has ${tokens} tokens; with model.max_tokens ${config.model.max_tokens} it exceeds max_model_len ${facts.maxModelLen}`,
    );
  }
  return [];
}

export function checkOutputWritable(outputRoot: string): void {
  try {
    mkdirSync(outputRoot, { recursive: true });
    accessSync(outputRoot, constants.W_OK);
  } catch (error) {
    throw new StageError('preflight', `output_root: ${outputRoot} is not writable (${errorMessage(error)})`);
  }
}
