import { z } from 'zod';

/**
 * The experiment config schema: a typed, validated structure rather than a loose dict. Strict at
 * every level, so a misspelt key is an error instead of a silently ignored setting. Keys stay
 * snake_case as users write them in YAML, so the resolved config, the frozen config.yaml and the
 * error messages all use the same names.
 *
 * Required values (name, method, data.*, model.id, model.base_url, output_root) have no default:
 * a missing one is an error. Only tunables get the defaults documented here.
 */

/** Placeholders the prompting lib substitutes into both prompt templates. */
export const PROMPT_PLACEHOLDERS = ['profile', 'group', 'item', 'question', 'min', 'max'] as const;
/**
 * Placeholders whose value changes per item: they must come after {profile}, so an entity's
 * prompts share the longest prefix vLLM can cache.
 */
const ITEM_PLACEHOLDERS = ['group', 'item', 'question', 'min', 'max'];

// Same text as @assay/prompting's DEFAULT_PROMPT_TEMPLATES (a spec keeps them in sync); copied
// rather than imported so the config lib stays at the bottom of the dependency graph.
export const DEFAULT_SYSTEM_PROMPT =
  'You are simulating the survey respondent whose profile is given below. Answer every question ' +
  'as that person would. Reply with a number only: no words, no units, no explanation.';

// Keep "between {min} and {max}": the test simulator reads the valid range from that phrase.
export const DEFAULT_USER_PROMPT =
  "Profile of the respondent:\n{profile}\n\nIn study '{group}', question '{item}': {question}\n" +
  'Answer with a single number between {min} and {max}.';

/** Kept equal to the review checklist's fail threshold (libs/evaluation's review.ts) by defaults-sync.spec.ts. */
export const DEFAULT_MAX_FAILURE_SHARE = 0.05;

const PLACEHOLDER_RE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Placeholder names used in a template, in order of first appearance. */
export function placeholdersIn(template: string): string[] {
  const seen = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER_RE)) seen.add(m[1]);
  return [...seen];
}

/** Every placeholder occurrence, repeats included, in order. */
function occurrences(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER_RE)].map((m) => m[1]);
}

function promptTemplate(defaultText: string) {
  return z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      for (const name of placeholdersIn(text)) {
        if (!(PROMPT_PLACEHOLDERS as readonly string[]).includes(name)) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown placeholder '{${name}}'`,
            params: { placeholder: name },
          });
        }
      }
    })
    .default(defaultText);
}

const tabularPath = z
  .string()
  .min(1)
  .refine((p) => /\.(csv|parquet)$/i.test(p), { message: 'must be a .csv or .parquet file' });

const httpUrl = z
  .string()
  .min(1)
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), {
    message: 'must be an http(s) URL',
  });

// An env var NAME; the pattern also keeps pasted keys (e.g. `sk-...`) out of the config.
const envVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
    message: 'must be the NAME of an environment variable holding the key (letters, digits, _), never the key itself',
  });

export const DataSection = z.strictObject({
  profiles: tabularPath,
  responses: tabularPath,
  items: tabularPath,
  /** Created by the data lib (from `split.*`) when missing. */
  split: z.string().min(1),
});

export const SplitSection = z.strictObject({
  seed: z.int().default(42),
  test_fraction: z.number().min(0).max(1).default(0.2),
});

export const SampleSection = z.strictObject({
  /** null = every test entity. */
  max_entities: z.int().min(1).nullable().default(null),
  /** null = every group; an empty list would select nothing, so it is rejected. */
  groups: z.array(z.string().min(1)).min(1).nullable().default(null),
});

export const LabelsSection = z.strictObject({
  /** binary = median split per item, computed on the train split. */
  mode: z.enum(['raw', 'binary']).default('raw'),
});

export const ModelSection = z.strictObject({
  /** The model name the server serves. */
  id: z.string().min(1),
  /**
   * The server's OpenAI-style root (http://host:port/v1), or a list of replicas of one model: each
   * entity's prompts go to one of them (consistent hashing, failover to the next). Where the model
   * is served is not part of the identity (see identityView); a worker's ASSAY_MODEL_BASE_URL
   * overrides it for that worker's calls.
   */
  base_url: z.union([
    httpUrl,
    z
      .array(httpUrl)
      .min(1)
      .refine((urls) => new Set(urls.map((u) => u.replace(/\/+$/, ''))).size === urls.length, { message: 'lists the same replica twice' }),
  ]),
  api_key_env: envVarName.nullable().default(null),
  /** `builtin:<name>` or a path to tokenizer_config.json / a .jinja file. */
  chat_template: z.string().min(1).default('builtin:chatml'),
  /** null = ask the server. */
  max_model_len: z.int().min(1).nullable().default(null),
  temperature: z.number().min(0).default(0),
  max_tokens: z.int().min(1).default(16),
  seed: z.int().default(0),
  stop: z.array(z.string().min(1)).default([]),
  /** vLLM structured output. */
  guided_json: z.boolean().default(false),
  lora_adapter: z.string().min(1).nullable().default(null),
  request_timeout_s: z.number().positive().default(60),
  max_retries: z.int().min(0).default(4),
  /** In-flight requests per worker. */
  concurrency: z.int().min(1).default(16),
  /**
   * The largest share of a phase's prompts whose model call may fail (after retries) for the run to
   * go on. Above it the run fails at the inference stage as soon as that is certain, instead of
   * "completing" with answers missing; the default is where the review checklist's failure-rate
   * checks turn from warn to fail (more than 5%).
   */
  max_failure_share: z.number().min(0).max(1).default(DEFAULT_MAX_FAILURE_SHARE),
});

// The rules @assay/prompting enforces when it builds prompts, checked here so a bad template
// fails at load time, not after the run has started.
export const PromptSection = z
  .strictObject({
    system: promptTemplate(DEFAULT_SYSTEM_PROMPT),
    user: promptTemplate(DEFAULT_USER_PROMPT),
  })
  .superRefine((prompt, ctx) => {
    // The system message comes first in the rendered prompt, so order is system then user.
    const all = [...occurrences(prompt.system).map((p) => ['system', p]), ...occurrences(prompt.user).map((p) => ['user', p])];
    const profiles = all.filter(([, p]) => p === 'profile');
    if (profiles.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: profiles.length > 1 ? [profiles[1][0]] : ['user'],
        message: `{profile} must appear exactly once across prompt.system and prompt.user (found ${profiles.length})`,
        params: { omitFound: true },
      });
      return;
    }
    const firstItem = all.findIndex(([, p]) => ITEM_PLACEHOLDERS.includes(p));
    const profileAt = all.findIndex(([, p]) => p === 'profile');
    if (firstItem !== -1 && firstItem < profileAt) {
      const [where, name] = all[firstItem];
      ctx.addIssue({
        code: 'custom',
        path: [where],
        message: `{${name}} comes before {profile}, so prompts of one respondent share no prefix for vLLM to cache; put {profile} first`,
        params: { omitFound: true },
      });
    }
  });

/**
 * Which profile columns an LLM sees, in the profiles file's column order. Patterns are column
 * names or globs (`*` any run of characters, `?` one character, `{a,b}` alternatives); every
 * pattern must match at least one column (checked against the profiles file by @assay/data), so
 * a misspelt name is an error, not a silently missing feature.
 */
export const FeatureFilterSection = z
  .strictObject({
    /** Only the columns matching one of these (absent = every column). */
    include: z.array(z.string().min(1)).min(1).optional(),
    /** Minus the columns matching one of these (applied after include). */
    exclude: z.array(z.string().min(1)).min(1).optional(),
  })
  .refine((f) => f.include !== undefined || f.exclude !== undefined, { message: 'give include and/or exclude (a list of column names or globs)', params: { omitFound: true } });

/**
 * A view of the entity profile for the prompt. Optional as a whole and without defaults: a config
 * without it resolves, hashes and renders exactly as before the section existed.
 */
export const ProfileSection = z
  .strictObject({
    features: FeatureFilterSection.optional(),
    /**
     * A CSV with columns `column,label,scale` (scale may be empty): the profile line of a listed
     * column reads "label (scale): value" instead of "column: value".
     */
    codebook: z
      .string()
      .min(1)
      .refine((p) => /\.csv$/i.test(p), { message: 'must be a .csv file' })
      .optional(),
  })
  .refine((p) => p.features !== undefined || p.codebook !== undefined, { message: 'give features and/or codebook, or leave the profile section out', params: { omitFound: true } });

export const SmokeSection = z.strictObject({
  enabled: z.boolean().default(true),
  examples: z.int().min(1).default(4),
});

/**
 * The keys every config has, whatever its method. Strict like the sections; the method's own
 * section is the one other top-level key allowed (see ExperimentConfig).
 */
// prefault (not default) so an omitted section is parsed and gets its inner defaults.
const SHARED_SECTIONS = {
  name: z.string().min(1),
  /** A registered method (the method catalog checks the name and validates its section). */
  method: z.string().regex(/^[a-z][a-z0-9_]*$/, { message: 'must be a method name (lower_snake_case)' }),
  /** The hypothesis; the README shows "(not stated)" when absent. */
  purpose: z.string().min(1).optional(),
  data: DataSection,
  split: SplitSection.prefault({}),
  sample: SampleSection.prefault({}),
  labels: LabelsSection.prefault({}),
  model: ModelSection,
  prompt: PromptSection.prefault({}),
  /** Absent = every column under its own name (no default: an absent section stays absent). */
  profile: ProfileSection.optional(),
  smoke: SmokeSection.prefault({}),
  output_root: z.string().min(1),
};
export const SHARED_KEYS: readonly string[] = Object.keys(SHARED_SECTIONS);

/**
 * The shared keys, plus the chosen method's own section under the method's name. That section is
 * validated by the method's schema when the config is parsed with a method catalog
 * (parseExperimentConfig / loadExperimentConfig); any other key is rejected there.
 */
export const ExperimentConfig = z.object(SHARED_SECTIONS).catchall(z.unknown());
/** The config of a method that asks a model (model section required). */
export type ExperimentConfig = z.infer<typeof ExperimentConfig>;

/**
 * Any method's config: a method that asks a model has a `model` section (ExperimentConfig), a
 * method fitted on the train split has none (FittedExperimentConfig). Which one a method takes is
 * the method catalog's `usesModel`; requireModelSection narrows where a model is needed.
 */
export const AnyExperimentConfig = z.object({ ...SHARED_SECTIONS, model: ModelSection.optional() }).catchall(z.unknown());
export type AnyExperimentConfig = z.infer<typeof AnyExperimentConfig>;
/** The config of a method without a model (a baseline fitted on the train split). */
export type FittedExperimentConfig = Omit<AnyExperimentConfig, 'model'> & { model?: undefined };

/** The config with its model section, or an error naming the key and the method that needs it. */
export function requireModelSection(config: AnyExperimentConfig): ExperimentConfig {
  const { model } = config;
  if (model === undefined) throw new Error(`model: the config of method '${config.method}' has no 'model' section, and a model is needed here (model.id, model.base_url)`);
  return { ...config, model };
}

/** model.base_url as a list of replicas (one entry for a single server). */
export function modelBaseUrls(model: Pick<ExperimentConfig['model'], 'base_url'>): string[] {
  return typeof model.base_url === 'string' ? [model.base_url] : [...model.base_url];
}
