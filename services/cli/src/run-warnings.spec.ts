import { plannerWarnings } from './run-warnings';

describe('plannerWarnings', () => {
  it("given the started event's warnings, when the CLI said the request's own, then only the planner's data warnings remain, once each", () => {
    const local = ['config: model.temperature 1.5 is unusually high'];
    const started = [...local, 'responses.csv: 1 value(s) outside their item\'s [min, max] (kept as is): line 3 ...', 'profiles.csv: 1 entit(y/ies) have no observation: "e9"', 'profiles.csv: 1 entit(y/ies) have no observation: "e9"'];
    expect(plannerWarnings(started, local)).toEqual([started[1], started[2]]);
  });

  it('given no warnings, then nothing to say', () => {
    expect(plannerWarnings([], [])).toEqual([]);
  });
});
