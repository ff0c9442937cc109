import { derivedEventId } from './plan-append';

describe('derivedEventId', () => {
  it('given a seed, when derived, then it is a version-5 UUID, the same for the same seed and different for another', () => {
    const id = derivedEventId('["planner","m1",0]');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedEventId('["planner","m1",0]')).toBe(id);
    expect(derivedEventId('["planner","m1",1]')).not.toBe(id);
  });
});
