import { runMode } from './mode';

describe('runMode', () => {
  it('given no LoRA adapter, when named, then zero-shot runs are "zero-shot" and other methods keep their name', () => {
    expect(runMode('llm_zero_shot', null)).toBe('zero-shot');
    expect(runMode('llm_few_shot', null)).toBe('llm_few_shot');
  });

  it('given a LoRA adapter, when named, then the run is SFT, with its prompting kept', () => {
    expect(runMode('llm_zero_shot', 'survey-lora')).toBe('SFT (zero-shot prompts)');
  });
});
