export { defineMethod, checkMethod, methodUsesModel, promptsOf, MethodDefinitionError } from './method';
export type { MethodDefinition, MethodStage, MethodEntityPrompts, PromptPlanInput, AnyMethod, EntityInputStage, EntityInputPrompt, EntityInputSampling, FitInput } from './method';
export { STAGE_CODE, STAGE_SOURCES, stageCodeVersion, methodStageCodeVersion, methodStageUnit, sharedUnit } from './stage-code';
export type { StageCodeRecord, StageCodeRecords, MethodCodeKind, MethodCodeOwner } from './stage-code';
