import * as path from 'node:path';
import { ConfigError, DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT, parseExperimentConfig, toDict } from './index';
import { minimalRaw } from './test-helpers';

function parseError(raw: unknown): ConfigError {
  try {
    parseExperimentConfig(raw, 'configs/x.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseExperimentConfig', () => {
  it('given only the required keys, when parsed, then every tunable gets its documented default', () => {
    const config = parseExperimentConfig(minimalRaw(), 'configs/x.yaml');
    expect(config.split).toEqual({ seed: 42, test_fraction: 0.2 });
    expect(config.sample).toEqual({ max_entities: null, groups: null });
    expect(config.labels).toEqual({ mode: 'raw' });
    expect(config.smoke).toEqual({ enabled: true, examples: 4 });
    expect(config.prompt).toEqual({ system: DEFAULT_SYSTEM_PROMPT, user: DEFAULT_USER_PROMPT });
    expect(config.model).toEqual({
      id: 'm',
      base_url: 'http://127.0.0.1:8000/v1',
      api_key_env: null,
      chat_template: 'builtin:chatml',
      max_model_len: null,
      temperature: 0,
      max_tokens: 16,
      seed: 0,
      stop: [],
      guided_json: false,
      lora_adapter: null,
      request_timeout_s: 60,
      max_retries: 4,
      concurrency: 16,
      max_failure_share: 0.05,
    });
    expect(config.purpose).toBeUndefined();
  });

  it('given relative paths, when parsed, then data/chat_template resolve against the origin folder and output_root against cwd', () => {
    const raw = minimalRaw();
    raw.data = { profiles: 'p.csv', responses: 'r.parquet', items: 'i.csv', split: 's.json' };
    raw.model = { id: 'm', base_url: 'http://h/v1', chat_template: 'tok/tokenizer_config.json' };
    raw.output_root = 'outputs';
    const config = parseExperimentConfig(raw, '/repo/configs/x.yaml');
    expect(config.data.profiles).toBe('/repo/configs/p.csv');
    expect(config.data.split).toBe('/repo/configs/s.json');
    expect(config.model?.chat_template).toBe('/repo/configs/tok/tokenizer_config.json');
    expect(config.output_root).toBe(path.resolve(process.cwd(), 'outputs'));
  });

  it('given a parsed config, when its toDict is parsed again, then the result is identical (resolution is idempotent)', () => {
    const config = parseExperimentConfig({ ...minimalRaw(), purpose: 'h' }, '/a/b.yaml');
    expect(toDict(parseExperimentConfig(toDict(config), '/elsewhere/c.yaml'))).toEqual(toDict(config));
  });

  it('given a misspelt key, when parsed, then the error names its full path and the closest valid key', () => {
    const raw = minimalRaw();
    (raw.model as Record<string, unknown>).temprature = 0.5;
    const err = parseError(raw);
    expect(err.message).toBe("unknown key 'model.temprature' in configs/x.yaml (did you mean 'model.temperature'?)");
    expect(err.path).toBe('model.temprature');
    expect(err.file).toBe('configs/x.yaml');
  });

  it('given a key placed in the wrong section, when parsed, then the suggestion is the key in its right section', () => {
    const err = parseError({ ...minimalRaw(), temperature: 0 });
    expect(err.message).toContain("unknown key 'temperature'");
    expect(err.message).toContain("did you mean 'model.temperature'?");
  });

  it('given an unknown key far from any valid one, when parsed, then the valid keys are listed', () => {
    const err = parseError({ ...minimalRaw(), smoke: { zzzzzzzz: 1 } });
    expect(err.message).toContain("unknown key 'smoke.zzzzzzzz'");
    expect(err.message).toContain('valid keys here: enabled, examples');
  });

  it('given a wrong type, when parsed, then the error names the path, the expected type and the value found', () => {
    const raw = minimalRaw();
    (raw.model as Record<string, unknown>).temperature = 'hot';
    const err = parseError(raw);
    expect(err.path).toBe('model.temperature');
    expect(err.message).toBe(`invalid value for 'model.temperature' in configs/x.yaml: expected number, found string "hot"`);
  });

  it('given a non-integer where an integer is expected, when parsed, then the error says integer (or null)', () => {
    const err = parseError({ ...minimalRaw(), sample: { max_entities: 2.5 } });
    expect(err.message).toContain("'sample.max_entities'");
    expect(err.message).toContain('expected integer or null, found number 2.5');
  });

  it('given an out-of-range value, when parsed, then the bound is named', () => {
    const err = parseError({ ...minimalRaw(), split: { test_fraction: 1.5 } });
    expect(err.message).toContain("'split.test_fraction'");
    expect(err.message).toContain('must be <= 1, found number 1.5');
  });

  it('given a bad enum value, when parsed, then the options and the closest one are named', () => {
    const err = parseError({ ...minimalRaw(), labels: { mode: 'binry' } });
    expect(err.message).toContain("'labels.mode'");
    expect(err.message).toContain("expected one of raw, binary, found string \"binry\" (did you mean 'binary'?)");
  });

  it.each([['name'], ['output_root'], ['data.split'], ['model.id'], ['model.base_url']])(
    'given required key %s missing, when parsed, then the error names its path and nothing is defaulted',
    (key) => {
      const raw = minimalRaw();
      const segs = key.split('.');
      const parent = segs.length === 1 ? raw : (raw[segs[0]] as Record<string, unknown>);
      delete parent[segs[segs.length - 1]];
      const err = parseError(raw);
      expect(err.path).toBe(key);
      expect(err.message).toContain(`missing required key '${key}' in configs/x.yaml`);
    },
  );

  it('given a whole required section missing, when parsed, then the section is named', () => {
    const raw = minimalRaw();
    delete raw.model;
    expect(parseError(raw).message).toBe("missing required key 'model' in configs/x.yaml (expected mapping)");
  });

  it('given several problems, when parsed, then all are reported and the first sets path/file', () => {
    const raw = minimalRaw();
    delete raw.name;
    (raw.model as Record<string, unknown>).max_tokens = 0;
    const err = parseError(raw);
    expect(err.issues.map((i) => i.path)).toEqual(['name', 'model.max_tokens']);
    expect(err.message.split('\n')).toHaveLength(2);
  });

  it('given an unknown placeholder in prompt.user, when parsed, then the error names the placeholder', () => {
    const err = parseError({ ...minimalRaw(), prompt: { user: 'Q: {questoin} for {profile}' } });
    expect(err.path).toBe('prompt.user');
    expect(err.message).toContain("unknown placeholder '{questoin}'");
    expect(err.message).toContain("did you mean '{question}'?");
  });

  it('given only known placeholders and literal JSON braces, when parsed, then it is accepted', () => {
    const config = parseExperimentConfig({ ...minimalRaw(), prompt: { user: '{profile} {question} reply {"answer": 3} in [{min}, {max}]' } }, 'x.yaml');
    expect(config.prompt.user).toContain('{profile}');
  });

  it('given {profile} missing from both templates, when parsed, then it is an error (the model would know nothing of the respondent)', () => {
    const err = parseError({ ...minimalRaw(), prompt: { user: '{question} {min}-{max}' } });
    expect(err.path).toBe('prompt.user');
    expect(err.message).toBe("invalid value for 'prompt.user' in configs/x.yaml: {profile} must appear exactly once across prompt.system and prompt.user (found 0)");
  });

  it('given {profile} in both templates, when parsed, then the second one is named', () => {
    const err = parseError({ ...minimalRaw(), prompt: { system: 'You are {profile}.', user: '{profile} {question}' } });
    expect(err.path).toBe('prompt.user');
    expect(err.message).toContain('(found 2)');
  });

  it('given an item placeholder before {profile}, when parsed, then it is an error naming both (no shared prefix to cache)', () => {
    const err = parseError({ ...minimalRaw(), prompt: { system: 'Topic: {group}', user: '{profile} {question}' } });
    expect(err.path).toBe('prompt.system');
    expect(err.message).toContain('{group} comes before {profile}');
  });

  it('given {profile} in the system prompt and items in the user prompt, when parsed, then it is accepted', () => {
    const config = parseExperimentConfig({ ...minimalRaw(), prompt: { system: 'You are:\n{profile}', user: '{question} ({min}-{max})' } }, 'x.yaml');
    expect(config.prompt.system).toBe('You are:\n{profile}');
  });

  it('given data files that are not csv/parquet, when parsed, then the key is named', () => {
    const raw = minimalRaw();
    (raw.data as Record<string, unknown>).profiles = '/d/profiles.xlsx';
    expect(parseError(raw).message).toContain("invalid value for 'data.profiles' in configs/x.yaml: must be a .csv or .parquet file");
  });

  it('given a non-http base_url, when parsed, then it is rejected', () => {
    const raw = minimalRaw();
    (raw.model as Record<string, unknown>).base_url = 'ftp://host/v1';
    expect(parseError(raw).message).toContain("'model.base_url'");
  });

  it('given an empty groups list, when parsed, then it is rejected (null means all)', () => {
    expect(parseError({ ...minimalRaw(), sample: { groups: [] } }).message).toContain('use null for "all"');
  });

  it('given api_key_env holding an env var name, when parsed, then it is kept as a name', () => {
    const raw = minimalRaw();
    (raw.model as Record<string, unknown>).api_key_env = 'VLLM_API_KEY';
    expect(parseExperimentConfig(raw, 'x.yaml').model?.api_key_env).toBe('VLLM_API_KEY');
  });

  it('given a pasted key in api_key_env, when parsed, then it is rejected without echoing the key', () => {
    const raw = minimalRaw();
    (raw.model as Record<string, unknown>).api_key_env = 'sk-proj-SECRETSECRET';
    const err = parseError(raw);
    expect(err.message).toContain("'model.api_key_env'");
    expect(err.message).toContain('NAME of an environment variable');
    expect(err.message).not.toContain('SECRET');
  });

  it('given _base in a raw object, when parsed directly, then the error points at the loader', () => {
    expect(parseError({ ...minimalRaw(), _base: 'b.yaml' }).message).toContain('resolved by loadExperimentConfig');
  });

  it('given a non-mapping, when parsed, then the error says so', () => {
    expect(parseError(['a']).message).toContain('expected a mapping of config keys at the top level, found list');
  });
});

describe('model.base_url as a list of replicas', () => {
  const withBaseUrl = (baseUrl: unknown) => ({ ...minimalRaw(), model: { id: 'm', base_url: baseUrl } });
  it('given a list of URLs, when parsed, then kept as the list', () => {
    expect(parseExperimentConfig(withBaseUrl(['http://a:1/v1', 'http://b:1/v1']), 'configs/x.yaml').model?.base_url).toEqual(['http://a:1/v1', 'http://b:1/v1']);
  });
  it('given a list with a bad entry, when parsed, then the error names the entry', () => {
    expect(parseError(withBaseUrl(['http://a:1/v1', 'b:1'])).message).toContain("'model.base_url.1'");
    expect(parseError(withBaseUrl(['http://a:1/v1', 'b:1'])).message).toContain('must be an http(s) URL');
  });
  it('given neither a URL nor a list, when parsed, then the error says what is expected', () => {
    expect(parseError(withBaseUrl(8000)).message).toContain('expected an http(s) URL, or a list of them (replicas), found');
    expect(parseError(withBaseUrl([])).message).toContain("'model.base_url'");
  });
});
