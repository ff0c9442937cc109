import * as path from 'node:path';
import { ExperimentConfig, loadExperimentConfig, parseExperimentConfig, validateConfig } from './index';
import { minimalRaw, tempTree } from './test-helpers';

/** A config with no warnings at all: data files exist, purpose stated. */
function cleanRaw(): Record<string, any> {
  const root = tempTree({ 'p.csv': 'x\n', 'r.csv': 'x\n', 'i.csv': 'x\n' });
  return {
    ...minimalRaw(),
    purpose: 'h',
    data: { profiles: path.join(root, 'p.csv'), responses: path.join(root, 'r.csv'), items: path.join(root, 'i.csv'), split: path.join(root, 's.json') },
  };
}
function warn(mutate: (raw: Record<string, any>) => void): string[] {
  const raw = cleanRaw();
  mutate(raw);
  return validateConfig(parseExperimentConfig(raw, '/x/c.yaml') as ExperimentConfig);
}

describe('validateConfig', () => {
  it('given a sensible config, when validated, then there are no warnings', () => {
    expect(warn(() => undefined)).toEqual([]);
  });

  it.each([
    ['model.temperature', (r: Record<string, any>) => (r.model.temperature = 1.6)],
    ['model.max_tokens', (r: Record<string, any>) => (r.model.max_tokens = 3)],
    ['model.max_tokens', (r: Record<string, any>) => (r.model.max_tokens = 513)],
    ['model.max_tokens', (r: Record<string, any>) => Object.assign(r.model, { guided_json: true, max_tokens: 6 })],
    ['model.max_tokens', (r: Record<string, any>) => Object.assign(r.model, { max_model_len: 16, max_tokens: 16 })],
    ['model.concurrency', (r: Record<string, any>) => (r.model.concurrency = 257)],
    ['model.request_timeout_s', (r: Record<string, any>) => (r.model.request_timeout_s = 4)],
    ['model.max_retries', (r: Record<string, any>) => (r.model.max_retries = 0)],
    ['model.max_retries', (r: Record<string, any>) => (r.model.max_retries = 11)],
    ['model.max_failure_share', (r: Record<string, any>) => (r.model.max_failure_share = 0.5)],
    ['model.api_key_env', (r: Record<string, any>) => (r.model.api_key_env = 'ASSAY_SURELY_UNSET_VAR')],
    ['model.base_url', (r: Record<string, any>) => (r.model.base_url = 'http://127.0.0.1:8000')],
    ['model.chat_template', (r: Record<string, any>) => Object.assign(r.model, { guided_json: true, chat_template: '/nonexistent/tok.json' })],
    ['split.test_fraction', (r: Record<string, any>) => (r.split = { test_fraction: 0 })],
    ['split.test_fraction', (r: Record<string, any>) => (r.split = { test_fraction: 1 })],
    ['sample.max_entities', (r: Record<string, any>) => (r.sample = { max_entities: 9 })],
    ['sample.groups', (r: Record<string, any>) => (r.sample = { groups: ['a', 'a'] })],
    ['smoke.enabled', (r: Record<string, any>) => (r.smoke = { enabled: false })],
    ['smoke.examples', (r: Record<string, any>) => (r.smoke = { examples: 21 })],
    ['prompt.user', (r: Record<string, any>) => (r.prompt = { user: '{profile} {min}-{max}' })],
    ['purpose', (r: Record<string, any>) => delete r.purpose],
    ['data.profiles', (r: Record<string, any>) => (r.data.profiles = '/nonexistent/p.csv')],
  ])('given a suspicious %s, when validated, then one one-line warning names the key', (key, mutate) => {
    const warnings = warn(mutate);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].startsWith(`${key}:`)).toBe(true);
    expect(warnings[0]).not.toContain('\n');
  });

  it('given guided_json with an unreadable template, when validated, then the warning mentions guided_json', () => {
    expect(warn((r) => Object.assign(r.model, { guided_json: true, chat_template: '/nonexistent/tok.json' }))[0]).toContain("can't be checked for use with model.guided_json");
  });

  it('given boundary values that are fine, when validated, then no warning', () => {
    expect(warn((r) => Object.assign(r.model, { temperature: 1.5, max_tokens: 4, concurrency: 256, request_timeout_s: 5 }))).toEqual([]);
    expect(warn((r) => (r.sample = { max_entities: 10 }))).toEqual([]);
  });

  it('given the shipped demo config, when loaded, then the only warnings are about data not generated yet (if any)', () => {
    const { warnings } = loadExperimentConfig(path.join(__dirname, '../../../configs/experiments/demo.yaml'));
    expect(warnings.filter((w) => !w.startsWith('data.'))).toEqual([]);
  });

  it('given a YAML warning (unknown tag), when loaded, then it is reported with file and line', () => {
    // JSON is YAML, so the clean config can be written as flow mappings after the tagged line.
    const body = Object.entries(cleanRaw()).filter(([k]) => k !== 'name').map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
    const root = tempTree({ 'b.yaml': ['name: !weird t', ...body, ''].join('\n') });
    const { warnings } = loadExperimentConfig(path.join(root, 'b.yaml'), { presetsDir: root });
    expect(warnings).toEqual([expect.stringMatching(/^YAML warning in .*b\.yaml:1:7: Unresolved tag: !weird/)]);
  });
});
