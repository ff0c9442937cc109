export { defineMethod, checkMethod, methodUsesModel, promptsOf, MethodDefinitionError } from './method';
export type { MethodDefinition, MethodStage, MethodEntityPrompts, PromptPlanInput, AnyMethod, EntityInputStage, EntityInputPrompt, EntityInputSampling, FitInput } from './method';
export { STAGE_CODE, STAGE_SOURCES, stageCodeVersion } from './stage-code';
export type { StageCodeRecord } from './stage-code';
