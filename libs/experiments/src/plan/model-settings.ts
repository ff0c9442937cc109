import { modelBaseUrls, type ExperimentConfig } from '@assay/config';
import type { ModelCallSettings } from '@assay/contracts';

/** What a worker needs from the config to call the model: names of secrets, never their values. */
export function modelCallSettings(config: ExperimentConfig): ModelCallSettings {
  const m = config.model;
  const [baseUrl, ...more] = modelBaseUrls(m);
  return {
    id: m.id,
    baseUrl,
    ...(more.length > 0 ? { replicas: [baseUrl, ...more] } : {}),
    apiKeyEnv: m.api_key_env,
    temperature: m.temperature,
    maxTokens: m.max_tokens,
    seed: m.seed,
    stop: m.stop,
    guidedJson: m.guided_json,
    loraAdapter: m.lora_adapter,
    requestTimeoutS: m.request_timeout_s,
    maxRetries: m.max_retries,
    concurrency: m.concurrency,
  };
}
