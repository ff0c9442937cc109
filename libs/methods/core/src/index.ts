export { defineMethod, checkMethod, MethodDefinitionError } from './method';
export type { MethodDefinition, MethodStage, MethodEntityPrompts, PromptPlanInput, AnyMethod } from './method';
