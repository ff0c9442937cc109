export { defineMethod, checkMethod, MethodDefinitionError } from './method';
export type { MethodDefinition, MethodStage, MethodEntityPrompts, PromptPlanInput, AnyMethod, EntityInputStage, EntityInputPrompt, EntityInputSampling } from './method';
export { STAGE_CODE, STAGE_SOURCES, stageCodeVersion } from './stage-code';
export type { StageCodeRecord } from './stage-code';
