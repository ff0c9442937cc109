import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { canonicalJson, computeIdentity, type AnyExperimentConfig, identityView, loadExperimentConfig, parseExperimentConfig, toDict } from './index';
import { MINIMAL_YAML, minimalRaw, tempTree } from './test-helpers';

const HASHES = { profiles: 'h-p', responses: 'h-r', items: 'h-i', split: 'h-s' };
const CODE = 'abc12345';

function idOf(config: AnyExperimentConfig, dataHashes: Record<string, string> = HASHES, codeVersion = CODE): string {
  return computeIdentity({ config, dataHashes, codeVersion }).identity;
}
function idOfRaw(raw: Record<string, unknown>): string {
  return idOf(parseExperimentConfig(raw, '/x/c.yaml'));
}
function idOfYaml(files: Record<string, string>, entry: string): string {
  const root = tempTree(files);
  return idOf(loadExperimentConfig(path.join(root, entry), { presetsDir: path.join(root, 'presets') }).config);
}

describe('computeIdentity', () => {
  it('given a config, when identified, then identity is 8 hex of configHash + code version, algorithm v1', () => {
    const result = computeIdentity({ config: parseExperimentConfig(minimalRaw(), '/x/c.yaml'), dataHashes: HASHES, codeVersion: 'abc12345-dirty' });
    expect(result.algorithm).toBe('assay-identity/v1');
    expect(result.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(result.identity).toBe(`${result.configHash.slice(0, 8)}_abc12345-dirty`);
  });

  it('given a fixed config, when identified, then the hash is pinned (a change here means every identity changed)', () => {
    // Failing means every existing identity changed: fine for new defaults; a new canonical form needs a new algorithm name.
    expect(computeIdentity({ config: parseExperimentConfig(minimalRaw(), '/x/c.yaml'), dataHashes: HASHES, codeVersion: CODE }).configHash).toBe(
      'c5856130a430550aa07a67028b75e8e8f1a4cb044df182283b5a196ff92a01fe',
    );
  });

  describe('same identity', () => {
    it('given the same values with keys reordered and comments added, when loaded, then the identity is the same', () => {
      const reordered = [
        '# a comment',
        'output_root: outputs',
        'model:',
        '  base_url: http://127.0.0.1:8000/v1   # trailing comment',
        '  id: m',
        'data:',
        '  split: data/split.json',
        '  items: data/items.csv',
        '  responses: data/responses.csv',
        '  profiles: data/profiles.csv',
        'method: llm_zero_shot',
        'name: t',
        '',
      ].join('\n');
      expect(idOfYaml({ 'a.yaml': reordered }, 'a.yaml')).toBe(idOfYaml({ 'a.yaml': MINIMAL_YAML }, 'a.yaml'));
    });

    it('given _base + _presets that resolve to the same values as an inline file, when loaded, then the identity is the same', () => {
      const inline = idOfYaml({ 'x.yaml': `${MINIMAL_YAML}sample:\n  max_entities: 8\nlabels:\n  mode: binary\n` }, 'x.yaml');
      const composed = idOfYaml(
        {
          'base.yaml': MINIMAL_YAML,
          'presets/fast.yaml': 'sample:\n  max_entities: 8\n',
          'presets/binary.yaml': 'labels:\n  mode: binary\n',
          'x.yaml': '_base: base.yaml\n_presets: [fast, binary]\n',
        },
        'x.yaml',
      );
      expect(composed).toBe(inline);
    });

    it('given a default written out explicitly, when identified, then it equals the omitted default', () => {
      const raw = minimalRaw();
      (raw.model as Record<string, unknown>).temperature = 0;
      raw.smoke = { enabled: true };
      expect(idOfRaw(raw)).toBe(idOfRaw(minimalRaw()));
    });

    it.each([
      ['model.base_url', (r: Record<string, any>) => (r.model.base_url = 'https://gpu-box.example:9000/v1')],
      ['model.api_key_env', (r: Record<string, any>) => (r.model.api_key_env = 'OTHER_KEY')],
      ['output_root', (r: Record<string, any>) => (r.output_root = '/somewhere/else')],
      ['data paths', (r: Record<string, any>) => (r.data = { profiles: '/m/p.csv', responses: '/m/r.csv', items: '/m/i.csv', split: '/m/s.json' })],
    ])('given only %s changed (where, not what), when identified, then the identity is the same', (_key, mutate) => {
      const raw = minimalRaw();
      mutate(raw);
      expect(idOfRaw(raw)).toBe(idOfRaw(minimalRaw()));
    });

    it('given the whole checkout moved (same files elsewhere, chat template included), when loaded, then the identity is the same', () => {
      const files = { 'cfg/a.yaml': MINIMAL_YAML.replace('  id: m\n', '  id: m\n  chat_template: tpl/t.jinja\n'), 'cfg/tpl/t.jinja': '{{ messages }}' };
      expect(idOfYaml(files, 'cfg/a.yaml')).toBe(idOfYaml(files, 'cfg/a.yaml'));
    });
  });

  describe('new identity', () => {
    it.each([
      ['name', (r: Record<string, any>) => (r.name = 'other')],
      ['purpose', (r: Record<string, any>) => (r.purpose = 'a hypothesis')],
      ['model.id', (r: Record<string, any>) => (r.model.id = 'other-model')],
      ['model.temperature', (r: Record<string, any>) => (r.model.temperature = 0.7)],
      ['model.max_tokens', (r: Record<string, any>) => (r.model.max_tokens = 17)],
      ['model.seed', (r: Record<string, any>) => (r.model.seed = 1)],
      ['model.stop', (r: Record<string, any>) => (r.model.stop = ['\n'])],
      ['model.chat_template', (r: Record<string, any>) => (r.model.chat_template = 'builtin:llama3')],
      ['model.guided_json', (r: Record<string, any>) => (r.model.guided_json = true)],
      ['model.lora_adapter', (r: Record<string, any>) => (r.model.lora_adapter = 'adapter-1')],
      ['model.concurrency', (r: Record<string, any>) => (r.model.concurrency = 8)],
      ['split.seed', (r: Record<string, any>) => (r.split = { seed: 1 })],
      ['split.test_fraction', (r: Record<string, any>) => (r.split = { test_fraction: 0.3 })],
      ['sample.max_entities', (r: Record<string, any>) => (r.sample = { max_entities: 20 })],
      ['sample.groups', (r: Record<string, any>) => (r.sample = { groups: ['big5'] })],
      ['labels.mode', (r: Record<string, any>) => (r.labels = { mode: 'binary' })],
      ['prompt.system', (r: Record<string, any>) => (r.prompt = { system: 'Be terse.' })],
      ['prompt.user', (r: Record<string, any>) => (r.prompt = { user: '{profile}\n{question} ({min}-{max})' })],
      ['smoke.examples', (r: Record<string, any>) => (r.smoke = { examples: 2 })],
    ])('given %s changed, when identified, then the identity changes', (_key, mutate) => {
      const raw = minimalRaw();
      mutate(raw);
      expect(idOfRaw(raw)).not.toBe(idOfRaw(minimalRaw()));
    });

    it.each(Object.keys(HASHES))('given the content hash of data.%s changed, when identified, then the identity changes', (key) => {
      const config = parseExperimentConfig(minimalRaw(), '/x/c.yaml');
      expect(idOf(config, { ...HASHES, [key]: 'changed' })).not.toBe(idOf(config));
    });

    it('given a different code version, when identified, then the identity changes', () => {
      const config = parseExperimentConfig(minimalRaw(), '/x/c.yaml');
      expect(idOf(config, HASHES, 'abc12345-dirty')).not.toBe(idOf(config));
      expect(idOf(config, HASHES, 'def67890')).not.toBe(idOf(config));
    });

    it('given a chat template file whose content changed, when identified, then the identity changes', () => {
      const root = tempTree({ 'a.yaml': MINIMAL_YAML.replace('  id: m\n', '  id: m\n  chat_template: t.jinja\n'), 't.jinja': 'v1' });
      const config = loadExperimentConfig(path.join(root, 'a.yaml'), { presetsDir: root }).config;
      const before = idOf(config);
      writeFileSync(path.join(root, 't.jinja'), 'v2');
      expect(idOf(config)).not.toBe(before);
      expect((identityView(config).model as Record<string, unknown>).chat_template).toMatch(/^sha256:[0-9a-f]{64}$/);
    });
  });

  describe('refusals', () => {
    const config = parseExperimentConfig(minimalRaw(), '/x/c.yaml');

    it('given dataHashes missing a data key, when identified, then it throws naming the key', () => {
      expect(() => computeIdentity({ config, dataHashes: { profiles: 'a', responses: 'b', items: 'c' }, codeVersion: CODE })).toThrow(/missing split/);
    });

    it('given an unexpected dataHashes key, when identified, then it throws naming the key', () => {
      expect(() => computeIdentity({ config, dataHashes: { ...HASHES, extra: 'x' }, codeVersion: CODE })).toThrow(/unexpected extra/);
    });

    it('given a path-like or empty code version, when identified, then it throws', () => {
      expect(() => computeIdentity({ config, dataHashes: HASHES, codeVersion: '../x' })).toThrow(/codeVersion/);
      expect(() => computeIdentity({ config, dataHashes: HASHES, codeVersion: '' })).toThrow(/codeVersion/);
    });

    it('given a chat template path that does not exist, when identified, then it throws naming the key', () => {
      const raw = minimalRaw();
      (raw.model as Record<string, unknown>).chat_template = '/nonexistent/t.jinja';
      expect(() => idOf(parseExperimentConfig(raw, '/x/c.yaml'))).toThrow(/model\.chat_template \/nonexistent\/t\.jinja/);
    });
  });

  describe('secrets', () => {
    const SECRET = 'sk-test-DO-NOT-LEAK-0123456789';
    const VAR = 'ASSAY_CONFIG_SPEC_API_KEY';
    beforeEach(() => {
      process.env[VAR] = SECRET;
    });
    afterEach(() => {
      delete process.env[VAR];
    });

    it('given api_key_env naming a set env var, when resolved, then only the name appears in toDict, identity input and warnings', () => {
      const root = tempTree({ 'a.yaml': MINIMAL_YAML.replace('  id: m\n', `  id: m\n  api_key_env: ${VAR}\n`) });
      const { config, warnings } = loadExperimentConfig(path.join(root, 'a.yaml'), { presetsDir: root });
      const dict = toDict(config);
      expect((dict.model as Record<string, unknown>).api_key_env).toBe(VAR);
      expect(canonicalJson(dict)).not.toContain(SECRET);
      expect(canonicalJson(identityView(config))).not.toContain(SECRET);
      expect(warnings.join('\n')).not.toContain(SECRET);
      expect(warnings.some((w) => w.startsWith('model.api_key_env'))).toBe(false);
    });
  });
});
