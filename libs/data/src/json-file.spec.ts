import { prettyJson } from './json-file';

describe('prettyJson', () => {
  it('given an object, when printed, then keys keep their order with a 2-space indent and a trailing newline', () => {
    expect(prettyJson({ b: 1, a: [2] })).toBe('{\n  "b": 1,\n  "a": [\n    2\n  ]\n}\n');
  });
});
