export { llmPersonaTwoStage, personaPrompts, summaryPrompt, MissingSummaryError, SUMMARY_FILE } from './method';
export { PersonaSection, SECTION_KEY } from './section';
export type { PersonaSettings } from './section';
