import * as path from 'node:path';
import { ConfigError, loadExperimentConfig } from './index';
import { MINIMAL_YAML, tempTree } from './test-helpers';

function loadError(file: string, opts?: { presetsDir?: string }): ConfigError {
  try {
    loadExperimentConfig(file, opts);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const REPO = path.resolve(__dirname, '../../..');

describe('loadExperimentConfig', () => {
  describe('a single file', () => {
    it('given a minimal YAML, when loaded, then paths are absolute relative to the file and sources lists it', () => {
      const root = tempTree({ 'exp/a.yaml': MINIMAL_YAML });
      const { config, sources } = loadExperimentConfig(path.join(root, 'exp/a.yaml'), { presetsDir: root });
      expect(config.data.profiles).toBe(path.join(root, 'exp/data/profiles.csv'));
      expect(config.data.split).toBe(path.join(root, 'exp/data/split.json'));
      expect(config.output_root).toBe(path.resolve('outputs'));
      expect(sources).toEqual([path.join(root, 'exp/a.yaml')]);
    });

    it('given a misspelt key, when loaded, then the error names the file, line and column of that key', () => {
      const root = tempTree({ 'a.yaml': MINIMAL_YAML.replace('  id: m\n', '  id: m\n  temprature: 1\n') });
      const err = loadError(path.join(root, 'a.yaml'), { presetsDir: root });
      expect(err.message).toMatch(/^unknown key 'model\.temprature' in .*a\.yaml:10:3 \(did you mean 'model\.temperature'\?\)$/);
      expect(err.file).toBe(path.join(root, 'a.yaml'));
      expect(err.line).toBe(10);
    });

    it('given a bad list element, when loaded, then the error names the element path and its line', () => {
      const root = tempTree({ 'a.yaml': MINIMAL_YAML.replace('  id: m\n', '  id: m\n  stop:\n    - ok\n    - ""\n') });
      const err = loadError(path.join(root, 'a.yaml'), { presetsDir: root });
      expect(err.message).toMatch(/^invalid value for 'model\.stop\.1' in .*a\.yaml:12:7: must not be empty, found string ""$/);
    });

    it('given a YAML syntax error, when loaded, then the error names file, line and column', () => {
      const root = tempTree({ 'bad.yaml': 'name: t\nmodel:\n  stop: [a, b\n  id: m\n' });
      const err = loadError(path.join(root, 'bad.yaml'), { presetsDir: root });
      expect(err.message).toMatch(/^YAML error in .*bad\.yaml:4:3: /);
      expect(err.line).toBe(4);
      expect(err.column).toBe(3);
    });

    it('given a YAML alias bomb, when loaded, then it is a config error naming file, line and column of the multiplying alias', () => {
      // The classic "billion laughs": each level repeats the previous one nine times.
      const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
      for (const [prev, name] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f']]) {
        levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
      }
      const root = tempTree({ 'bomb.yaml': `${MINIMAL_YAML}${levels.join('\n')}\n` });
      const err = loadError(path.join(root, 'bomb.yaml'), { presetsDir: root });
      expect(err).toBeInstanceOf(ConfigError);
      // The last level's first alias (*e, line 17 column 8) stands for the most nodes.
      expect(err.message).toMatch(/^YAML error in .*bomb\.yaml:17:8: Excessive alias count .* \(alias \*e expands to \d+ nodes\); a config needs at most 100 alias expansions$/);
      expect([err.line, err.column]).toEqual([17, 8]);
    });

    it('given a few aliases, when loaded, then they resolve (the guard only stops bombs)', () => {
      const yaml = MINIMAL_YAML.replace('  id: m\n', '  id: m\n  stop: &stops [a, b]\n');
      const root = tempTree({ 'ok.yaml': yaml });
      expect(loadExperimentConfig(path.join(root, 'ok.yaml'), { presetsDir: root }).config.model?.stop).toEqual(['a', 'b']);
    });

    it('given a duplicated key, when loaded, then it is a YAML error rather than last-one-wins', () => {
      const root = tempTree({ 'dup.yaml': `${MINIMAL_YAML}name: again\n` });
      expect(loadError(path.join(root, 'dup.yaml'), { presetsDir: root }).message).toMatch(/YAML error in .*dup\.yaml:12:1: Map keys must be unique/);
    });

    it('given an empty file, when loaded, then the error says a mapping was expected', () => {
      const root = tempTree({ 'empty.yaml': '# nothing\n' });
      expect(loadError(path.join(root, 'empty.yaml')).message).toContain('expected a mapping of config keys at the top level, found an empty document');
    });

    it('given a missing file, when loaded, then the error names it', () => {
      expect(loadError('/nonexistent/x.yaml').message).toBe('config file not found: /nonexistent/x.yaml');
    });
  });

  describe('_base', () => {
    it('given a chain of bases, when loaded, then the deepest merges first, mappings merge deeply and own keys win', () => {
      const root = tempTree({
        'root.yaml': `${MINIMAL_YAML}model:\n  id: root-model\n  base_url: http://root/v1\n  temperature: 0.1\n  max_tokens: 32\n`.replace(/model:\n  id: m\n  base_url: http:\/\/127.0.0.1:8000\/v1\n/, ''),
        'sub/mid.yaml': '_base: ../root.yaml\nmodel:\n  temperature: 0.2\n  seed: 7\n',
        'sub/leaf/top.yaml': '_base: ../mid.yaml\nmodel:\n  temperature: 0.3\n',
      });
      const { config, sources } = loadExperimentConfig(path.join(root, 'sub/leaf/top.yaml'), { presetsDir: root });
      expect(sources).toEqual([path.join(root, 'root.yaml'), path.join(root, 'sub/mid.yaml'), path.join(root, 'sub/leaf/top.yaml')]);
      expect(config.model).toMatchObject({ id: 'root-model', base_url: 'http://root/v1', temperature: 0.3, seed: 7, max_tokens: 32 });
      // Paths resolve against the file that declared them, not the file being loaded.
      expect(config.data.items).toBe(path.join(root, 'data/items.csv'));
    });

    it('given a base with a list, when the child sets the list, then the list is replaced, not concatenated', () => {
      const root = tempTree({
        'base.yaml': MINIMAL_YAML.replace('  id: m\n', '  id: m\n  stop: ["\\n", "END"]\n'),
        'child.yaml': '_base: base.yaml\nmodel:\n  stop: ["###"]\n',
      });
      expect(loadExperimentConfig(path.join(root, 'child.yaml'), { presetsDir: root }).config.model?.stop).toEqual(['###']);
    });

    it('given a child that sets a defaulted value to null, when loaded, then null replaces the base value', () => {
      const root = tempTree({
        'base.yaml': `${MINIMAL_YAML}sample:\n  max_entities: 50\n`,
        'child.yaml': '_base: base.yaml\nsample:\n  max_entities: null\n',
      });
      expect(loadExperimentConfig(path.join(root, 'child.yaml'), { presetsDir: root }).config.sample.max_entities).toBeNull();
    });

    it('given a cycle, when loaded, then the error lists the chain', () => {
      const root = tempTree({ 'a.yaml': '_base: b.yaml\n', 'b.yaml': '_base: c.yaml\n', 'c.yaml': '_base: a.yaml\n' });
      const err = loadError(path.join(root, 'a.yaml'), { presetsDir: root });
      expect(err.message).toMatch(/^cycle in _base\/_presets: .*a\.yaml -> .*b\.yaml -> .*c\.yaml -> .*a\.yaml$/);
      expect(err.path).toBe('_base');
    });

    it('given a self-reference, when loaded, then it is a cycle', () => {
      const root = tempTree({ 'a.yaml': '_base: a.yaml\n' });
      expect(loadError(path.join(root, 'a.yaml'), { presetsDir: root }).message).toContain('cycle in _base/_presets');
    });

    it('given a missing base, when loaded, then the error names the declaring file and line', () => {
      const root = tempTree({ 'a.yaml': 'name: x\n_base: nope.yaml\n' });
      const err = loadError(path.join(root, 'a.yaml'), { presetsDir: root });
      expect(err.message).toMatch(/^_base file not found: .*nope\.yaml \(declared as 'nope\.yaml' in .*a\.yaml:2:1\)$/);
    });

    it('given a misspelt key in a base file, when loading the child, then the error names the base file and its line', () => {
      const root = tempTree({
        'base.yaml': `${MINIMAL_YAML}smoke:\n  exampels: 2\n`,
        'child.yaml': '_base: base.yaml\nname: child\n',
      });
      const err = loadError(path.join(root, 'child.yaml'), { presetsDir: root });
      expect(err.file).toBe(path.join(root, 'base.yaml'));
      expect(err.message).toMatch(/unknown key 'smoke\.exampels' in .*base\.yaml:13:3 \(did you mean 'smoke\.examples'\?\)/);
    });

    it('given a wrong type in the child overriding a base, when loaded, then the child file is named', () => {
      const root = tempTree({ 'base.yaml': MINIMAL_YAML, 'child.yaml': '_base: base.yaml\nmodel:\n  max_tokens: lots\n' });
      const err = loadError(path.join(root, 'child.yaml'), { presetsDir: root });
      expect(err.message).toMatch(/^invalid value for 'model\.max_tokens' in .*child\.yaml:3:3: expected integer, found string "lots"$/);
    });

    it('given a required key missing from the whole chain, when loaded, then the loaded file is named', () => {
      const root = tempTree({ 'base.yaml': MINIMAL_YAML.replace('name: t\n', ''), 'child.yaml': '_base: base.yaml\n' });
      expect(loadError(path.join(root, 'child.yaml'), { presetsDir: root }).message).toMatch(/^missing required key 'name' in .*child\.yaml/);
    });
  });

  describe('_presets', () => {
    const presets = {
      'configs/presets/p1.yaml': 'model:\n  temperature: 0.5\n  max_tokens: 10\n  stop: [a, b]\n',
      'configs/presets/p2.yaml': 'model:\n  temperature: 0.7\n  stop: [c]\n',
    };

    it('given presets, when loaded, then base first, presets in order, own keys last; presetsDir found via the configs/ ancestor', () => {
      const root = tempTree({
        ...presets,
        'configs/exp/base.yaml': `${MINIMAL_YAML}model:\n  id: m\n  base_url: http://h/v1\n  temperature: 0.1\n  seed: 3\n`.replace(/model:\n  id: m\n  base_url: http:\/\/127.0.0.1:8000\/v1\n/, ''),
        'configs/exp/x.yaml': '_base: base.yaml\n_presets: [p1, p2]\nmodel:\n  max_tokens: 12\n',
      });
      const { config, sources } = loadExperimentConfig(path.join(root, 'configs/exp/x.yaml'));
      expect(sources.map((s) => path.relative(root, s))).toEqual(['configs/exp/base.yaml', 'configs/presets/p1.yaml', 'configs/presets/p2.yaml', 'configs/exp/x.yaml']);
      expect(config.model).toMatchObject({ temperature: 0.7, max_tokens: 12, seed: 3, stop: ['c'] });
      expect(config).not.toHaveProperty('_base');
      expect(config).not.toHaveProperty('_presets');
    });

    it('given presets in the other order, when loaded, then the later preset wins', () => {
      const root = tempTree({ ...presets, 'configs/x.yaml': `${MINIMAL_YAML}_presets: [p2, p1]\n` });
      const { config } = loadExperimentConfig(path.join(root, 'configs/x.yaml'));
      expect(config.model?.temperature).toBe(0.5);
      expect(config.model?.stop).toEqual(['a', 'b']);
    });

    it('given an explicit presetsDir, when loaded, then presets come from there', () => {
      const root = tempTree({ 'elsewhere/p.yaml': 'labels:\n  mode: binary\n', 'a.yaml': `${MINIMAL_YAML}_presets: [p]\n` });
      const { config } = loadExperimentConfig(path.join(root, 'a.yaml'), { presetsDir: path.join(root, 'elsewhere') });
      expect(config.labels.mode).toBe('binary');
    });

    it('given an unknown preset, when loaded, then the error lists the available presets and the closest', () => {
      const root = tempTree({ ...presets, 'configs/x.yaml': `${MINIMAL_YAML}_presets: [p1, p3]\n` });
      const err = loadError(path.join(root, 'configs/x.yaml'));
      expect(err.message).toMatch(/^unknown preset 'p3' in .*x\.yaml:12:1 \(did you mean 'p1'\?\); available presets in .*configs\/presets: p1, p2$/);
    });

    it('given a preset name that is not a plain name, when loaded, then it is rejected', () => {
      const root = tempTree({ ...presets, 'configs/x.yaml': `${MINIMAL_YAML}_presets: [../p1]\n` });
      expect(loadError(path.join(root, 'configs/x.yaml')).message).toContain("invalid value for '_presets'");
    });

    it('given _presets as a single string, when loaded, then a list is required', () => {
      const root = tempTree({ ...presets, 'configs/x.yaml': `${MINIMAL_YAML}_presets: p1\n` });
      expect(loadError(path.join(root, 'configs/x.yaml')).message).toContain('expected a list of preset names');
    });

    it('given a preset path value, when loaded, then it resolves relative to the preset file', () => {
      const root = tempTree({ 'configs/presets/tpl.yaml': 'model:\n  chat_template: templates/t.jinja\n', 'configs/x.yaml': `${MINIMAL_YAML}_presets: [tpl]\n` });
      const { config } = loadExperimentConfig(path.join(root, 'configs/x.yaml'));
      expect(config.model?.chat_template).toBe(path.join(root, 'configs/presets/templates/t.jinja'));
    });

    it('given a preset that names itself, when loaded, then it is a cycle', () => {
      const root = tempTree({ 'configs/presets/loop.yaml': '_presets: [loop]\n', 'configs/x.yaml': `${MINIMAL_YAML}_presets: [loop]\n` });
      expect(loadError(path.join(root, 'configs/x.yaml')).message).toMatch(/cycle in _base\/_presets: .*loop\.yaml -> .*loop\.yaml/);
    });
  });

  describe('shipped configs', () => {
    it('given configs/experiments/demo.yaml, when loaded, then it resolves with the keys the lead relies on', () => {
      const { config, sources } = loadExperimentConfig(path.join(REPO, 'configs/experiments/demo.yaml'));
      expect(sources).toEqual([path.join(REPO, 'configs/experiments/demo.yaml')]);
      expect(config).toMatchObject({ name: 'demo', method: 'llm_zero_shot', model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:8011/v1' } });
      expect(config.data.profiles).toBe(path.join(REPO, 'data/sample/profiles.csv'));
      expect(config.data.split).toBe(path.join(REPO, 'data/sample/split.json'));
    });

    it('given demo-fast.yaml, when loaded, then base, fast_test and binary apply', () => {
      const { config, sources } = loadExperimentConfig(path.join(REPO, 'configs/experiments/demo-fast.yaml'));
      expect(sources.map((s) => path.relative(REPO, s))).toEqual([
        'configs/experiments/base.yaml',
        'configs/presets/fast_test.yaml',
        'configs/presets/binary.yaml',
        'configs/experiments/demo-fast.yaml',
      ]);
      expect(config.name).toBe('demo-fast');
      expect(config.sample.max_entities).toBe(8);
      expect(config.labels.mode).toBe('binary');
      expect(config.model?.max_tokens).toBe(8);
    });

    it('given the gpu_large preset, when applied to demo, then concurrency and timeout change', () => {
      const root = tempTree({ 'x.yaml': `_base: ${path.join(REPO, 'configs/experiments/demo.yaml')}\n_presets: [gpu_large]\n` });
      const { config } = loadExperimentConfig(path.join(root, 'x.yaml'), { presetsDir: path.join(REPO, 'configs/presets') });
      expect(config.model?.concurrency).toBe(64);
      expect(config.model?.request_timeout_s).toBe(120);
    });
  });
});
