export { defineMethod, checkMethod, MethodDefinitionError } from './method';
export type { MethodDefinition, MethodStage, MethodEntityPrompts, PromptPlanInput, AnyMethod, EntityInputStage, EntityInputPrompt, EntityInputSampling } from './method';
