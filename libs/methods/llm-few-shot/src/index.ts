export { FewShotSection, SECTION_KEY, ExampleSelectionError, selectExamples, assertExamplesFromTrain } from './select';
export type { FewShotSettings } from './select';
export { renderFewShotProfile, buildFewShotPrompts } from './layout';
export type { WorkedExample } from './layout';
export { llmFewShot } from './method';
