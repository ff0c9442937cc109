import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError, loadExperimentConfig, parseExperimentConfig, requireModelSection } from '@assay/config';
import { minimalRaw, MINIMAL_YAML, tempTree } from '../../../config/src/test-helpers';
import { defineMethod, MethodDefinitionError } from '@assay/methods/core';
import { BUILTIN_METHODS } from './builtin';
import { MethodCatalog, METHOD_MODULES_ENV } from './catalog';

const catalog = new MethodCatalog(BUILTIN_METHODS);

function parseError(raw: Record<string, unknown>): string {
  try {
    parseExperimentConfig(raw, '/c/exp.yaml', catalog);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('MethodCatalog', () => {
  it('given the built-in methods, when listed, then zero-shot, few-shot, the two-stage persona and the four baselines are registered', () => {
    expect(catalog.names()).toEqual(['llm_zero_shot', 'llm_few_shot', 'llm_persona_two_stage', 'baseline_train_mean', 'baseline_majority', 'baseline_knn', 'baseline_linear']);
  });

  it('given each built-in method and its settings, when labelled, then the label is the short human name reports show', () => {
    const label = (name: string, section: Record<string, unknown> | undefined) => {
      const method = catalog.get(name);
      return method.label(method.section === null ? null : method.section.parse(section ?? {}));
    };
    expect(label('llm_zero_shot', undefined)).toBe('zero-shot');
    expect(label('llm_few_shot', { k: 4, selection: 'nearest' })).toBe('few-shot (k=4, nearest)');
    expect(label('llm_few_shot', { k: 2, seed: 7 })).toBe('few-shot (k=2, random, seed 7)');
    expect(label('llm_persona_two_stage', {})).toBe('two-stage persona');
    expect(label('baseline_train_mean', undefined)).toBe('baseline: train mean');
    expect(label('baseline_majority', undefined)).toBe('baseline: majority');
    expect(label('baseline_knn', { k: 10 })).toBe('baseline: kNN (k=10)');
    expect(label('baseline_knn', { k: 3, metric: 'manhattan' })).toBe('baseline: kNN (k=3, manhattan)');
    expect(label('baseline_linear', undefined)).toBe('baseline: linear (ridge / logistic)');
  });

  it('given an unknown name, when looked up, then the error lists the registered methods', () => {
    expect(() => catalog.get('llm_many_shot')).toThrow("method: unknown method 'llm_many_shot'; registered methods: llm_zero_shot, llm_few_shot, llm_persona_two_stage, baseline_train_mean, baseline_majority, baseline_knn, baseline_linear");
  });

  it('given two methods of one name, when catalogued, then the duplicate is refused', () => {
    expect(() => new MethodCatalog([...BUILTIN_METHODS, BUILTIN_METHODS[0]])).toThrow("method 'llm_zero_shot' is registered twice");
  });

  it('given a module path in ASSAY_METHOD_MODULES, when the catalog is built, then its method joins the built-in ones', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'assay-methods-'));
    const file = path.join(dir, 'toy.js');
    writeFileSync(file, "exports.method = { name: 'toy', codeVersion: 1, label: () => 'toy', description: 'a toy', section: null, stages: [{ name: 'predict', kind: 'prompt', description: 'p', reads: [] }], buildPrompts: () => [] };\n");
    expect(MethodCatalog.fromEnvironment({ [METHOD_MODULES_ENV]: file }).names()).toEqual(['llm_zero_shot', 'llm_few_shot', 'llm_persona_two_stage', 'baseline_train_mean', 'baseline_majority', 'baseline_knn', 'baseline_linear', 'toy']);
  });

  it('given a module whose method declares no codeVersion, when the catalog is built, then the error names the module and asks for one (its stage keys carry it)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'assay-methods-'));
    const file = path.join(dir, 'unversioned.js');
    writeFileSync(file, "exports.method = { name: 'toy', label: () => 'toy', description: 'a toy', section: null, stages: [{ name: 'predict', kind: 'prompt', description: 'p', reads: [] }], buildPrompts: () => [] };\n");
    expect(() => MethodCatalog.fromEnvironment({ [METHOD_MODULES_ENV]: file })).toThrow(`${METHOD_MODULES_ENV}: ${file} method 1 ('toy'): a method from a module must declare codeVersion`);
  });

  it('given a module that exports no method, when the catalog is built, then the error names the module and what it must export', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'assay-methods-'));
    const file = path.join(dir, 'empty.js');
    writeFileSync(file, 'exports.nothing = 1;\n');
    expect(() => MethodCatalog.fromEnvironment({ [METHOD_MODULES_ENV]: file })).toThrow(`${METHOD_MODULES_ENV}: module ${file} exports neither 'method' (one method) nor 'methods' (a non-empty list)`);
  });

  it('given a stage reading a later stage, when defined, then the declaration is refused', () => {
    expect(() =>
      defineMethod({
        name: 'two',
        label: () => 'two',
        description: 'd',
        section: null,
        stages: [
          { name: 'a', kind: 'prompt', description: 'a', reads: ['b'] },
          { name: 'b', kind: 'prompt', description: 'b', reads: [] },
        ],
        buildPrompts: () => [],
      }),
    ).toThrow(MethodDefinitionError);
  });
});

describe('config validation against the catalog', () => {
  it('given an unregistered method, when parsed, then the error lists the registered ones', () => {
    expect(parseError({ ...minimalRaw(), method: 'llm_fewshot' })).toBe(
      "unknown method 'llm_fewshot' in /c/exp.yaml (did you mean 'llm_few_shot'?); registered methods: llm_zero_shot, llm_few_shot, llm_persona_two_stage, baseline_train_mean, baseline_majority, baseline_knn, baseline_linear",
    );
  });

  it('given a few-shot section with an unknown key, when parsed, then the error names its full path and the valid keys', () => {
    expect(parseError({ ...minimalRaw(), method: 'llm_few_shot', llm_few_shot: { k: 2, selectoin: 'random' } })).toBe(
      "unknown key 'llm_few_shot.selectoin' in /c/exp.yaml (did you mean 'llm_few_shot.selection'?)",
    );
  });

  it('given a few-shot section with a bad value, when parsed, then the error names the key and the allowed values', () => {
    expect(parseError({ ...minimalRaw(), method: 'llm_few_shot', llm_few_shot: { k: 2, selection: 'closest' } })).toContain("invalid value for 'llm_few_shot.selection' in /c/exp.yaml: expected one of random, nearest");
  });

  it('given few-shot without its section, when parsed, then the missing k is named', () => {
    expect(parseError({ ...minimalRaw(), method: 'llm_few_shot' })).toBe("missing required key 'llm_few_shot.k' in /c/exp.yaml (expected integer)");
  });

  it('given a section of another method, when parsed, then it is an error naming both methods', () => {
    expect(parseError({ ...minimalRaw(), llm_few_shot: { k: 2 } })).toBe(
      "section 'llm_few_shot' in /c/exp.yaml holds the settings of method 'llm_few_shot', but method is 'llm_zero_shot': remove it or set method: llm_few_shot",
    );
  });

  it('given a top-level key that is neither shared nor a method, when parsed, then it is an unknown key', () => {
    expect(parseError({ ...minimalRaw(), modle: {} })).toBe("unknown key 'modle' in /c/exp.yaml (did you mean 'model'?)");
  });

  it('given a valid few-shot section, when parsed, then its defaults are applied under the method name', () => {
    const config = parseExperimentConfig({ ...minimalRaw(), method: 'llm_few_shot', llm_few_shot: { k: 3 } }, '/c/exp.yaml', catalog);
    expect(config.llm_few_shot).toEqual({ k: 3, selection: 'random', seed: 0 });
    expect(catalog.settingsOf(config)).toEqual({ k: 3, selection: 'random', seed: 0 });
  });

  it('given a zero-shot config, when parsed with and without the catalog, then the results are equal (no section added)', () => {
    expect(parseExperimentConfig(minimalRaw(), '/c/exp.yaml', catalog)).toEqual(parseExperimentConfig(minimalRaw(), '/c/exp.yaml'));
  });

  it('given a YAML file with a bad section key, when loaded, then the error points at its line', () => {
    const root = tempTree({ 'exp.yaml': `${MINIMAL_YAML.replace('method: llm_zero_shot', 'method: llm_few_shot')}llm_few_shot:\n  k: 2\n  sead: 1\n` });
    expect(() => loadExperimentConfig(path.join(root, 'exp.yaml'), { methods: catalog })).toThrow(/unknown key 'llm_few_shot.sead' in .*exp.yaml:14:3 \(did you mean 'llm_few_shot.seed'\?\)/);
  });

  it('given an already-parsed config with a stray section, when its settings are read, then the stray key is refused', () => {
    const config = { ...parseExperimentConfig(minimalRaw(), '/c/exp.yaml', catalog), llm_few_shot: { k: 1 } };
    expect(() => catalog.settingsOf(config)).toThrow("unknown top-level key(s) 'llm_few_shot'");
  });

  it('given a method with a section schema, when catalogued, then the config parser uses that schema', () => {
    const toy = defineMethod({ name: 'toy', label: () => 'toy', description: 'd', section: z.strictObject({ n: z.int() }), stages: [{ name: 'p', kind: 'prompt', description: 'p', reads: [] }], buildPrompts: () => [] });
    const withToy = new MethodCatalog([...BUILTIN_METHODS, toy]);
    expect(parseExperimentConfig({ ...minimalRaw(), method: 'toy', toy: { n: 2 } }, '/c/exp.yaml', withToy).toy).toEqual({ n: 2 });
  });
});

describe('config variants: a baseline has no model section, a model method needs one', () => {
  const baselineRaw = (method: string, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const { model: _model, ...raw } = minimalRaw();
    return { ...raw, method, ...extra };
  };

  it('given a baseline config without model, when parsed, then it is valid and has no model', () => {
    const config = parseExperimentConfig(baselineRaw('baseline_train_mean'), '/c/exp.yaml', catalog);
    expect(config.model).toBeUndefined();
    expect(catalog.usesModel(config.method)).toBe(false);
    expect(catalog.settingsOf(config)).toBeNull();
  });

  it('given a baseline config with a model section, when parsed, then the error names the key and says why', () => {
    expect(parseError({ ...baselineRaw('baseline_knn'), model: minimalRaw().model })).toMatch(/key 'model' in \/c\/exp\.yaml: method 'baseline_knn' is fitted on the train split and asks no model, so the 'model' section must be removed/);
  });

  it('given a model method without a model section, when parsed, then the error names the missing key and the method', () => {
    expect(parseError(baselineRaw('llm_zero_shot'))).toMatch(/missing required key 'model' in \/c\/exp\.yaml: method 'llm_zero_shot' asks a model/);
  });

  it('given a kNN section, when parsed, then its defaults apply and an unknown key is an error with its path', () => {
    expect(parseExperimentConfig(baselineRaw('baseline_knn', { baseline_knn: { k: 3 } }), '/c/exp.yaml', catalog).baseline_knn).toEqual({ k: 3, metric: 'euclidean' });
    expect(parseError(baselineRaw('baseline_knn', { baseline_knn: { k: 3, nieghbours: 2 } }))).toMatch(/unknown key 'baseline_knn.nieghbours'/);
    expect(parseError(baselineRaw('baseline_knn', { baseline_knn: { metric: 'cosine' } }))).toMatch(/baseline_knn.metric/);
  });

  it('given a section for a baseline without settings, when parsed, then it must be removed', () => {
    expect(parseError(baselineRaw('baseline_majority', { baseline_majority: { k: 1 } }))).toMatch(/method 'baseline_majority' takes no settings/);
  });

  it('given configs/experiments/baseline-knn.yaml, when loaded with the catalog, then it is a kNN baseline without a model', () => {
    const { config } = loadExperimentConfig(path.join(__dirname, '../../../../configs/experiments/baseline-knn.yaml'), { methods: catalog });
    expect(config.model).toBeUndefined();
    expect(config.baseline_knn).toEqual({ k: 5, metric: 'euclidean' });
  });

  it('given a baseline config, when a model is required of it, then requireModelSection names the key', () => {
    const config = parseExperimentConfig(baselineRaw('baseline_linear'), '/c/exp.yaml', catalog);
    expect(() => requireModelSection(config)).toThrow(/^model: the config of method 'baseline_linear' has no 'model' section/);
  });

  it('given an already-parsed config whose model does not fit its method, when its settings are read, then the catalog refuses it', () => {
    const config = parseExperimentConfig(minimalRaw(), '/c/exp.yaml', catalog);
    expect(() => catalog.settingsOf({ ...config, method: 'baseline_train_mean' })).toThrow("model: method 'baseline_train_mean' is fitted on the train split and asks no model");
  });
});
