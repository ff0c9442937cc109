import { existsSync, statSync } from 'node:fs';
import { modelBaseUrls, placeholdersIn, type AnyExperimentConfig, type ExperimentConfig } from './schema';

/**
 * Technically valid but probably wrong settings (a config's own `validate()`: warn before the run
 * about what the schema cannot forbid), one line each, naming
 * the key. Reads the environment and the file system only to check that named things exist;
 * never prints the value of the API-key variable.
 */
export function validateConfig(config: AnyExperimentConfig): string[] {
  const w: string[] = [];
  const { split, sample, smoke, prompt } = config;

  if (config.purpose === undefined) {
    w.push("purpose: not stated; the README will show '(not stated)' — write down the hypothesis this run tests");
  }

  if (config.model !== undefined) w.push(...modelWarnings(config.model));


  // ({profile} exactly once and before item placeholders is a schema error, not a warning.)
  const vars = new Set([...placeholdersIn(prompt.system), ...placeholdersIn(prompt.user)]);
  if (!vars.has('question')) w.push('prompt.user: no {question} placeholder in prompt.system or prompt.user; the model is never shown the question');
  if (!vars.has('min') || !vars.has('max')) w.push('prompt.user: no {min}/{max} placeholders in prompt.system or prompt.user; the model is not told the answer scale');

  if (split.test_fraction === 0) w.push('split.test_fraction: 0 leaves no test entities to predict');
  if (split.test_fraction === 1) w.push('split.test_fraction: 1 leaves no train entities (binary labels and baselines need them)');

  if (sample.max_entities !== null && sample.max_entities < 10) {
    w.push(`sample.max_entities: ${sample.max_entities} entities (< 10) is a smoke-sized sample; metrics will not be meaningful`);
  }
  if (sample.groups !== null && new Set(sample.groups).size !== sample.groups.length) {
    w.push('sample.groups: lists a group more than once');
  }

  if (!smoke.enabled) w.push('smoke.enabled: false — a broken prompt or parser is found only after the full run');
  else if (smoke.examples > 20) w.push(`smoke.examples: ${smoke.examples} is large for a smoke test (> 20)`);

  for (const key of ['profiles', 'responses', 'items'] as const) {
    if (!existsSync(config.data[key])) w.push(`data.${key}: file not found: ${config.data[key]}`);
  }
  return w;
}

/** The model section's warnings (a method without a model has none to check). */
function modelWarnings(model: ExperimentConfig['model']): string[] {
  const w: string[] = [];
  if (model.temperature > 1.5) w.push(`model.temperature: ${model.temperature} is very high for a prediction task (> 1.5); answers will be mostly noise`);
  if (model.max_tokens < 4) w.push(`model.max_tokens: ${model.max_tokens} is too small for a numeric answer (< 4); answers may be cut off`);
  if (model.max_tokens > 512) w.push(`model.max_tokens: ${model.max_tokens} is wasteful for a numeric answer (> 512)`);
  if (model.guided_json && model.max_tokens < 8) {
    w.push(`model.max_tokens: ${model.max_tokens} with model.guided_json: true leaves too few tokens for a JSON answer (< 8)`);
  }
  if (model.max_model_len !== null && model.max_tokens >= model.max_model_len) {
    w.push(`model.max_tokens: ${model.max_tokens} is >= model.max_model_len ${model.max_model_len}; no room is left for the prompt`);
  }
  if (model.concurrency > 256) w.push(`model.concurrency: ${model.concurrency} in-flight requests per worker is very high (> 256); expect timeouts and queueing on the server`);
  if (model.request_timeout_s < 5) w.push(`model.request_timeout_s: ${model.request_timeout_s}s is short (< 5s); requests queued behind others will time out`);
  if (model.max_retries === 0) w.push('model.max_retries: 0 — one transient server error fails the request');
  if (model.max_retries > 10) w.push(`model.max_retries: ${model.max_retries} is high (> 10); a dead server will be retried for a long time before the run fails`);

  if (model.max_failure_share >= 0.5) {
    w.push(`model.max_failure_share: ${model.max_failure_share} lets a run with ${Math.round(model.max_failure_share * 100)}% of its model calls failed complete; its metrics would rest on the prompts that happened to succeed`);
  }

  if (model.api_key_env !== null && process.env[model.api_key_env] === undefined) {
    w.push(`model.api_key_env: environment variable ${model.api_key_env} is not set in this process`);
  }

  for (const baseUrl of modelBaseUrls(model)) {
    let baseUrlPath = '';
    if (URL.canParse(baseUrl)) baseUrlPath = new URL(baseUrl).pathname.replace(/\/+$/, '');
    if (!baseUrlPath.endsWith('/v1')) {
      w.push(`model.base_url: ${baseUrl} does not end in /v1, where vLLM serves its OpenAI-compatible API`);
    }
  }

  if (!model.chat_template.startsWith('builtin:')) {
    const t = model.chat_template;
    if (!existsSync(t) || !statSync(t).isFile()) {
      w.push(
        model.guided_json
          ? `model.chat_template: ${t} is not a file, so it can't be checked for use with model.guided_json: true`
          : `model.chat_template: ${t} is not a file; the prompting lib will fail to load it`,
      );
    } else if (!/\.(json|jinja2?)$/i.test(t)) {
      w.push(`model.chat_template: ${t} is neither a tokenizer_config.json nor a .jinja file`);
    }
  }  return w;
}
