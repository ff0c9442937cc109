/**
 * How a run's predictions were made, as README.txt and metadata.json name it: the method's own
 * label (MethodDefinition.label, e.g. "few-shot (k=4, nearest)"), and the adapter when there is
 * one. A LoRA adapter makes it a fine-tuned (SFT) run whatever the prompting: a reader comparing
 * an adapter with its base model must see that at a glance, not find it in the model id.
 */
export function runMode(methodLabel: string, loraAdapter: string | null): string {
  return loraAdapter === null ? methodLabel : `${methodLabel}, SFT adapter ${loraAdapter}`;
}
