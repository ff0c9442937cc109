/**
 * Where a vLLM(-compatible) server answers each endpoint assay uses, from the configured
 * model.base_url (the OpenAI-style root, e.g. http://host:port/v1). Pre-flight and the workers
 * both derive their URLs here, so a base URL with a trailing slash or a path prefix means the
 * same server to both.
 */
export interface ServerUrls {
  /** GET: the served models and their max_model_len (OpenAI-style, under /v1). */
  models: string;
  /** POST: completions (OpenAI-style, under /v1). */
  completions: string;
  /** POST: token count by the server's own tokenizer (vLLM, at the root beside /v1). */
  tokenize: string;
  /** GET: Prometheus gauges such as the waiting queue (vLLM, at the root). */
  metrics: string;
  /** GET: liveness (vLLM, at the root). */
  health: string;
}

/** http://host:port/v1 → http://host:port: vLLM serves /health, /metrics and /tokenize at the root, beside /v1. */
export function serverRoot(baseUrl: string): string {
  return apiBase(baseUrl).replace(/\/v1$/, '');
}

export function serverUrls(baseUrl: string): ServerUrls {
  const root = serverRoot(baseUrl);
  return { models: `${apiBase(baseUrl)}/models`, completions: `${apiBase(baseUrl)}/completions`, tokenize: `${root}/tokenize`, metrics: `${root}/metrics`, health: `${root}/health` };
}

function apiBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}
