export type { FittedExperimentConfig } from './schema';
export { ConfigError } from './errors';
export type { ConfigIssue } from './errors';
export {
  ExperimentConfig,
  AnyExperimentConfig,
  requireModelSection,
  DataSection,
  SplitSection,
  SampleSection,
  LabelsSection,
  ModelSection,
  PromptSection,
  ProfileSection,
  FeatureFilterSection,
  SmokeSection,
  PROMPT_PLACEHOLDERS,
  SHARED_KEYS,
  DEFAULT_SYSTEM_PROMPT,
  DEFAULT_USER_PROMPT,
  DEFAULT_MAX_FAILURE_SHARE,
  placeholdersIn,
  modelBaseUrls,
} from './schema';
export { isPlainObject, parseExperimentConfig } from './parse';
export type { MethodSections } from './parse';
export { loadExperimentConfig } from './load';
export type { LoadedConfig } from './load';
export { validateConfig } from './validate';
export { canonicalJson, toDict } from './canonical';
export type { JsonObject, JsonValue } from './canonical';
export { computeIdentity, identityView, IDENTITY_ALGORITHM } from './identity';
export type { Identity, IdentityInput } from './identity';
export { repoRoot, resolveCodeVersion } from './code-version';
