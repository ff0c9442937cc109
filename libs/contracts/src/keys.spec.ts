import { compareCodeUnits, groupEntityKey, itemKey, sampleKey } from './keys';

describe('compareCodeUnits', () => {
  it('given strings that locale order would fold together, when sorted, then they keep UTF-16 code-unit order', () => {
    expect(['b', 'a', 'B', 'é', 'e', 'A'].sort(compareCodeUnits)).toEqual(['A', 'B', 'a', 'b', 'e', 'é']);
    expect(compareCodeUnits('x', 'x')).toBe(0);
  });
});

describe('keys', () => {
  it('given ids containing separators and quotes, when keyed, then distinct cells never share a key', () => {
    expect(itemKey('a,b', 'c')).not.toBe(itemKey('a', 'b,c'));
    expect(groupEntityKey('g"', 'e')).not.toBe(groupEntityKey('g', '"e'));
    expect(sampleKey({ entityId: 'e', group: 'g', item: 'i' })).not.toBe(sampleKey({ entityId: 'g', group: 'e', item: 'i' }));
  });

  it('given a cell, when keyed, then the key is the JSON list stored maps and prompt ids were built from', () => {
    expect(itemKey('g', 'i')).toBe('["g","i"]');
    expect(sampleKey({ entityId: 'e', group: 'g', item: 'i' })).toBe('["e","g","i"]');
  });
});
