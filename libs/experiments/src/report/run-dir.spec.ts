import { parseRunDir, registryFileFor, runDirFor } from './run-dir';

describe('run directory paths', () => {
  it('puts a run under <output_root>/<method>/experiments/<identity>, and parses it back', () => {
    const dir = runDirFor('/data/outputs', 'llm_zero_shot', 'ab12cd34_deadbeef-dirty');
    expect(dir).toBe('/data/outputs/llm_zero_shot/experiments/ab12cd34_deadbeef-dirty');
    expect(parseRunDir(dir)).toEqual({ outputRoot: '/data/outputs', method: 'llm_zero_shot', identity: 'ab12cd34_deadbeef-dirty' });
    expect(registryFileFor('/data/outputs', 'llm_zero_shot')).toBe('/data/outputs/llm_zero_shot/registry.json');
  });

  it('refuses a path that is not a run directory', () => {
    expect(() => parseRunDir('/data/outputs/llm_zero_shot/ab12')).toThrow(/is not <output_root>/);
  });
});
