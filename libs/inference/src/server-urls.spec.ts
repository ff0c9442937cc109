import { serverRoot, serverUrls } from './server-urls';

describe('serverUrls', () => {
  it('given a /v1 base URL with or without a trailing slash, when derived, then /models is under /v1 and the vLLM endpoints sit at the root', () => {
    for (const base of ['http://gpu-1:8000/v1', 'http://gpu-1:8000/v1/']) {
      expect(serverUrls(base)).toEqual({
        models: 'http://gpu-1:8000/v1/models',
        completions: 'http://gpu-1:8000/v1/completions',
        tokenize: 'http://gpu-1:8000/tokenize',
        metrics: 'http://gpu-1:8000/metrics',
        health: 'http://gpu-1:8000/health',
      });
    }
  });

  it('given a base URL behind a path prefix, when derived, then every endpoint keeps the prefix (metrics used to lose it)', () => {
    expect(serverRoot('http://proxy/llm/v1')).toBe('http://proxy/llm');
    expect(serverUrls('http://proxy/llm/v1').metrics).toBe('http://proxy/llm/metrics');
  });
});
