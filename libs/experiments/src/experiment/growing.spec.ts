import { GrowingMap, GrowingSet } from './growing';

describe('GrowingSet and GrowingMap (the fold\'s collections)', () => {
  it('given versions grown one from another, when read, then each sees exactly what it was given, and adding twice changes nothing', () => {
    const empty = GrowingSet.empty<string>();
    const a = empty.with('a');
    const ab = a.with('b');
    expect([...empty]).toEqual([]);
    expect([...a]).toEqual(['a']);
    expect([...ab]).toEqual(['a', 'b']);
    expect(a.has('b')).toBe(false);
    expect(ab.with('a')).toBe(ab);
    expect(ab.size).toBe(2);
  });

  it('given two folds from the same older version, when they add the same entry, then they share it; a different entry branches without touching the other', () => {
    const a = GrowingSet.empty<string>().with('a');
    const ab = a.with('b');
    const ab2 = a.with('b');
    expect([...ab2]).toEqual(['a', 'b']);
    const ac = a.with('c');
    expect([...ac]).toEqual(['a', 'c']);
    expect(ac.has('b')).toBe(false);
    expect([...ab]).toEqual(['a', 'b']);
    expect(ab.has('c')).toBe(false);
    expect([...ab.with('d')]).toEqual(['a', 'b', 'd']);
  });

  it('given a map, when a key is set again, then its first value stays; older versions do not see later keys', () => {
    const m1 = GrowingMap.empty<string, number>().withNew('x', 1);
    const m2 = m1.withNew('x', 2).withNew('y', 3);
    expect(m2.get('x')).toBe(1);
    expect(m1.get('y')).toBeUndefined();
    expect([...m2]).toEqual([['x', 1], ['y', 3]]);
    const other = m1.withNew('y', 4);
    expect(other.get('y')).toBe(4);
    expect(m2.get('y')).toBe(3);
  });
});
