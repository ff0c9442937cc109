import { modelBaseUrls, type ExperimentConfig } from '@assay/config';
import { VllmServer, type ServedModel } from '@assay/inference';
import { accessSync, constants, mkdirSync } from 'node:fs';
import type { LongestPrompt } from './plan-pages';
import { StageError } from './prepare';
import { errorMessage } from '@assay/contracts';


export interface ServerFacts {
  served: string[];
  maxModelLen: number | null;
}

/** The adapters to every replica of model.base_url, with the planner's credentials. */
function replicaServers(config: ExperimentConfig): VllmServer[] {
  let apiKey: string | null;
  try {
    apiKey = VllmServer.apiKeyFrom(config.model.api_key_env, process.env, 'planner');
  } catch (error) {
    throw new StageError('preflight', errorMessage(error));
  }
  return modelBaseUrls(config.model).map((url) => new VllmServer(url, apiKey, fetch));
}

/** How a replica is named in errors: the URL, and its place when there are several. */
function replicaName(config: ExperimentConfig, server: VllmServer): string {
  const urls = modelBaseUrls(config.model);
  return urls.length === 1 ? `model.base_url (${server.baseUrl})` : `model.base_url replica ${urls.indexOf(server.baseUrl) + 1} of ${urls.length} (${server.baseUrl})`;
}

/**
 * Every replica answers and serves model.id (or the LoRA adapter), and all of them tell the same
 * max_model_len; checked before any model call, with the replica named in the error.
 */
export async function checkModelServer(config: ExperimentConfig): Promise<ServerFacts> {
  const wanted = config.model.lora_adapter ?? config.model.id;
  const key = config.model.lora_adapter ? 'model.lora_adapter' : 'model.id';
  const facts = await Promise.all(
    replicaServers(config).map(async (server) => {
      const name = replicaName(config, server);
      let data: ServedModel[];
      try {
        data = await server.models(10_000);
      } catch (error) {
        throw new StageError('preflight', `${name}: ${errorMessage(error)}`);
      }
      const served = data.map((m) => m.id);
      const model = data.find((m) => m.id === wanted);
      if (!model) throw new StageError('preflight', `${key}: '${wanted}' is not served by ${name}; it serves: ${served.join(', ') || '(nothing)'}`);
      const base = data.find((m) => m.id === config.model.id) ?? model;
      return { name, served, maxModelLen: base.maxModelLen };
    }),
  );
  if (new Set(facts.map((f) => f.maxModelLen)).size > 1) {
    const said = facts.map((f) => `${f.name} says ${f.maxModelLen ?? 'nothing'}`).join('; ');
    throw new StageError('preflight', `model.base_url: the replicas do not serve the same max_model_len: ${said}`);
  }
  return { served: facts[0].served, maxModelLen: config.model.max_model_len ?? facts[0].maxModelLen };
}

/** Token count from the (first replica's) own tokenizer; null when it has no /tokenize (not vLLM). */
export async function countTokens(config: ExperimentConfig, prompt: string): Promise<number | null> {
  const [server] = replicaServers(config);
  try {
    return await server.tokenize(config.model.id, prompt, AbortSignal.timeout(30_000));
  } catch (error) {
    throw new StageError('preflight', `${replicaName(config, server)}: ${errorMessage(error)}`);
  }
}

/** The longest prompt (longestPrompt, or a PlanOutline's) plus max_tokens must fit max_model_len, or the server would refuse it mid-run. */
export async function checkLongestPrompt(config: ExperimentConfig, facts: ServerFacts, longest: LongestPrompt): Promise<string[]> {
  const tokens = await countTokens(config, longest.text);
  const where = `entity ${JSON.stringify(longest.entityId)}, item ${JSON.stringify(longest.item)}`;
  if (tokens === null) return [`the server has no /tokenize: the longest prompt (${where}, ${longest.text.length} characters) was not checked against max_model_len`];
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
