import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { computeIdentity, ConfigError, loadExperimentConfig, parseExperimentConfig, toDict } from './index';
import { MINIMAL_YAML, minimalRaw, tempTree } from './test-helpers';

const HASHES = { profiles: 'h-p', responses: 'h-r', items: 'h-i', split: 'h-s' };

function configError(raw: Record<string, unknown>): ConfigError {
  try {
    parseExperimentConfig(raw, '/x/c.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('the profile section (profile views)', () => {
  it('given no profile section, when parsed, then the resolved config has no profile key and the pinned identity is unchanged', () => {
    const config = parseExperimentConfig(minimalRaw(), '/x/c.yaml');
    expect('profile' in toDict(config)).toBe(false);
    // The same pinned hash as identity.spec.ts: adding the optional section changed no existing identity.
    expect(computeIdentity({ config, dataHashes: HASHES, codeVersion: 'abc12345' }).configHash).toBe('c5856130a430550aa07a67028b75e8e8f1a4cb044df182283b5a196ff92a01fe');
  });

  it('given features and a relative codebook, when loaded, then the codebook resolves against the declaring file', () => {
    const root = tempTree({ 'c.yaml': `${MINIMAL_YAML}profile:\n  features:\n    include: [age, 'f_*']\n  codebook: data/codebook.csv\n`, 'data/codebook.csv': 'column,label,scale\n' });
    const { config } = loadExperimentConfig(path.join(root, 'c.yaml'));
    expect(config.profile).toEqual({ features: { include: ['age', 'f_*'] }, codebook: path.join(root, 'data/codebook.csv') });
    expect(parseExperimentConfig({ ...minimalRaw(), profile: { codebook: 'cb.csv' } }, '/x/c.yaml').profile).toEqual({ codebook: '/x/cb.csv' });
  });

  it.each([
    ['an unknown key', { features: { include: ['a'] }, labels: 'x.csv' }, "unknown key 'profile.labels'"],
    ['an unknown key in features', { features: { inclde: ['a'] } }, "unknown key 'profile.features.inclde'"],
    ['an empty include list', { features: { include: [] } }, "'profile.features.include'"],
    ['features with neither list', { features: {} }, "'profile.features' in /x/c.yaml: give include and/or exclude"],
    ['an empty section', {}, "'profile' in /x/c.yaml: give features and/or codebook, or leave the profile section out"],
    ['a codebook that is not a CSV', { codebook: 'codebook.xlsx' }, "'profile.codebook' in /x/c.yaml: must be a .csv file"],
  ])('given %s, when parsed, then the error names the path', (_name, profile, expected) => {
    expect(configError({ ...minimalRaw(), profile }).message).toContain(expected);
  });

  it('given a codebook, when identified, then its content is in the identity and its location is not', () => {
    const root = tempTree({ 'a/cb.csv': 'column,label,scale\nage,Age,\n', 'b/cb.csv': 'column,label,scale\nage,Age,\n' });
    const id = (file: string) =>
      computeIdentity({ config: parseExperimentConfig({ ...minimalRaw(), profile: { codebook: file } }, '/x/c.yaml'), dataHashes: HASHES, codeVersion: 'c' }).identity;
    const [a, b] = [path.join(root, 'a/cb.csv'), path.join(root, 'b/cb.csv')];
    expect(id(a)).toBe(id(b));
    const none = computeIdentity({ config: parseExperimentConfig(minimalRaw(), '/x/c.yaml'), dataHashes: HASHES, codeVersion: 'c' }).identity;
    expect(id(a)).not.toBe(none);
    writeFileSync(b, 'column,label,scale\nage,Age in years,\n');
    expect(id(b)).not.toBe(id(a));
  });

  it('given a feature filter, when identified, then it changes the identity; a codebook that cannot be read names the key', () => {
    const id = (profile: unknown) => computeIdentity({ config: parseExperimentConfig({ ...minimalRaw(), profile }, '/x/c.yaml'), dataHashes: HASHES, codeVersion: 'c' }).identity;
    expect(id({ features: { include: ['age'] } })).not.toBe(id({ features: { include: ['age', 'gender'] } }));
    expect(() => id({ codebook: '/no/such/codebook.csv' })).toThrow('computeIdentity: cannot read profile.codebook /no/such/codebook.csv');
  });
});
