import { runMode } from './mode';

describe('runMode', () => {
  it("given no LoRA adapter, when named, then the run is named by its method's label", () => {
    expect(runMode('zero-shot', null)).toBe('zero-shot');
    expect(runMode('few-shot (k=4, nearest)', null)).toBe('few-shot (k=4, nearest)');
  });

  it('given a LoRA adapter, when named, then the run is SFT with the adapter named, its prompting kept', () => {
    expect(runMode('zero-shot', 'survey-lora')).toBe('zero-shot, SFT adapter survey-lora');
    expect(runMode('few-shot (k=4, nearest)', 'survey-lora')).toBe('few-shot (k=4, nearest), SFT adapter survey-lora');
  });
});
