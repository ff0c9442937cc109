/**
 * How a run's predictions were made, as README.txt and metadata.json name it. A LoRA adapter
 * makes it a fine-tuned (SFT) run whatever the prompting: a reader comparing an adapter with its
 * base model must see that at a glance, not find it in the model id.
 */
export function runMode(method: string, loraAdapter: string | null): string {
  const prompting = method === 'llm_zero_shot' ? 'zero-shot' : method;
  return loraAdapter === null ? prompting : `SFT (${prompting} prompts)`;
}
