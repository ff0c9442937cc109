import { canonicalJson, parseExperimentConfig, toDict } from './index';
import { minimalRaw } from './test-helpers';

describe('canonicalJson', () => {
  it('given nested objects in any key order, when serialised, then keys are sorted and there is no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ a: { c: null, d: [3, { y: 2, z: 1 }] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }));
  });

  it('given list order differences, when serialised, then they stay different (lists are ordered)', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('given an undefined property, when serialised, then it is omitted like an absent key', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it.each([
    ['NaN', { a: NaN }, /non-finite number NaN at \$\.a/],
    ['Infinity', [Infinity], /non-finite number Infinity at \$\[0\]/],
    ['a Date', { when: new Date(0) }, /non-plain object at \$\.when/],
    ['undefined in a list', [undefined], /cannot represent undefined at \$\[0\]/],
    ['a function', { f: () => 1 }, /cannot represent function at \$\.f/],
  ])('given %s, when serialised, then it throws naming where', (_what, value, pattern) => {
    expect(() => canonicalJson(value)).toThrow(pattern);
  });

  it('given a key named __proto__, when serialised, then it stays data', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}, "a": 2}') as unknown;
    expect(canonicalJson(value)).toBe('{"__proto__":{"x":1},"a":2}');
  });
});

describe('toDict', () => {
  it('given a parsed config, when converted, then it is plain JSON with sorted keys at every level', () => {
    const dict = toDict(parseExperimentConfig({ ...minimalRaw(), purpose: 'why' }, '/x/c.yaml'));
    expect(Object.keys(dict)).toEqual(['data', 'labels', 'method', 'model', 'name', 'output_root', 'prompt', 'purpose', 'sample', 'smoke', 'split']);
    expect(Object.keys(dict.model as object)).toEqual([...Object.keys(dict.model as object)].sort());
    expect(JSON.parse(JSON.stringify(dict))).toEqual(dict);
  });

  it('given no purpose, when converted, then the key is absent rather than null', () => {
    expect(toDict(parseExperimentConfig(minimalRaw(), '/x/c.yaml'))).not.toHaveProperty('purpose');
  });
});
