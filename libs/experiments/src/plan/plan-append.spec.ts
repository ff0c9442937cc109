import { chunkBounds, derivedEventId } from './plan-append';

describe('derivedEventId', () => {
  it('given a seed, when derived, then it is a version-5 UUID, the same for the same seed and different for another', () => {
    const id = derivedEventId('["planner","m1",0]');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedEventId('["planner","m1",0]')).toBe(id);
    expect(derivedEventId('["planner","m1",1]')).not.toBe(id);
  });
});

describe('chunkBounds', () => {
  it('given a count, when chunked, then sizes double from first up to max and cover every position once', () => {
    expect(chunkBounds(70, { first: 8, max: 32 })).toEqual([[0, 8], [8, 24], [24, 56], [56, 70]]);
    expect(chunkBounds(472, { first: 16, max: 256 }).map(([a, b]) => b - a)).toEqual([16, 32, 64, 128, 232]);
    expect(chunkBounds(3, { first: 16, max: 256 })).toEqual([[0, 3]]);
    expect(chunkBounds(0, { first: 16, max: 256 })).toEqual([]);
  });

  it('given bad sizes, when chunked, then the error names them', () => {
    expect(() => chunkBounds(5, { first: 0, max: 4 })).toThrow('chunk size first must be a positive integer, got 0');
    expect(() => chunkBounds(5, { first: 8, max: 4 })).toThrow('chunk size max (4) is below first (8)');
  });
});
