export { defineMethod, checkMethod, methodUsesModel, MethodDefinitionError } from './method';
export type { MethodDefinition, MethodStage, MethodEntityPrompts, PromptPlanInput, AnyMethod, FitInput } from './method';
