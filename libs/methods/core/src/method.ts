import type { z } from 'zod';
import type { ExperimentConfig } from '@assay/config';
import type { ItemDef } from '@assay/contracts';
import type { Dataset, Entity, ProfileView, SplitFile } from '@assay/data';
import type { BaselinePredictor, BaselineTrainingData } from '@assay/evaluation';
import type { ChatTemplate, EntityPrompts } from '@assay/prompting';

/**
 * What a prediction method is: a name, its own config section, the stages it runs (as data, so
 * the planner, the stage cache and the report can reason about them without reading the method's
 * code) and how it builds its prompts. Everything else (data loading, the split, evaluation, the
 * run directory, the report) is shared by every method.
 */

/**
 * One stage a method runs. `prompt` stages send model calls (their prompts come from buildPrompts);
 * a `fit` stage learns from the train split and predicts without a model (fit).
 */
export interface MethodStage {
  /** Unique within the method (letters, digits, _ and -). */
  name: string;
  kind: 'prompt' | 'fit';
  description: string;
  /** Names of the method's stages whose outputs this one reads (earlier in the list). */
  reads: readonly string[];
}

/** What a method gets to build its prompts from: the prepared run, already sampled and ordered. */
export interface PromptPlanInput<Settings> {
  config: ExperimentConfig;
  /** The method's own section, parsed by its schema (null for a method without a section). */
  settings: Settings;
  /** With the run's labels applied. */
  dataset: Dataset;
  split: SplitFile;
  profileView: ProfileView | null;
  chat: ChatTemplate;
  /** The test entities to predict, in plan order (sample.max_entities applied). */
  entities: Entity[];
  /** The items to ask, in plan order (sample.groups applied). */
  items: ItemDef[];
  /**
   * For a method with an `entityInput` stage: each entity's text from that stage (e.g. its persona
   * summary), by entity id. A method that reads them must fail on a missing one, never use ''.
   */
  entityInputs?: ReadonlyMap<string, string>;
}

/** How an entity-input call samples (its own settings, not the prediction's `model.*`). */
export interface EntityInputSampling {
  temperature: number;
  maxTokens: number;
  seed: number;
  stop: string[];
}

/** One entity's call of an entity-input stage: the whole prompt, chat template applied. */
export interface EntityInputPrompt {
  entityId: string;
  prompt: string;
}

/**
 * A stage whose model call, once per entity, makes a text the prediction prompts read (a persona
 * summary). Its answer for an entity lets that entity's predictions start, whatever the others.
 */
export interface EntityInputStage<Settings> {
  /** Name of the method's stage that runs it (one of `stages`). */
  stage: string;
  /** File name (under the entity's folder of the run directory) of the call's INPUT/OUTPUT. */
  file: string;
  buildPrompts(input: PromptPlanInput<Settings>): EntityInputPrompt[];
  sampling(settings: Settings): EntityInputSampling;
}

/** One entity's prompts, plus the train entities the method showed as examples (few-shot), if any. */
export interface MethodEntityPrompts extends EntityPrompts {
  examples?: string[];
}

/** What a fitted (non-LLM) method learns from: the train split only, plus its own settings. */
export interface FitInput<Settings> extends BaselineTrainingData {
  settings: Settings;
}

export interface MethodDefinition<Settings = unknown> {
  /** The value of `method:` and the name of the method's config section. */
  name: string;
  description: string;
  /**
   * How README.txt and metadata.json name a run of it, from its settings: short and human
   * ("few-shot (k=4, nearest)", "baseline: kNN (k=10)"). The report adds the SFT adapter when
   * model.lora_adapter is set.
   */
  label(settings: Settings): string;
  /**
   * The version of the method's own code, for a method that is not built in (registered from
   * ASSAY_METHOD_MODULES or a test): raise it whenever its prompts or fit may change, so its stage
   * keys change and no earlier output is reused for new code. A built-in method leaves it out: the
   * hash of its folder is recorded with a version per stage (stage-code.ts).
   */
  codeVersion?: number;
  /** Schema of the method's top-level section (strict); null when the method takes no settings. */
  section: z.ZodType<Settings> | null;
  stages: readonly MethodStage[];
  /** Present for a method whose prompts read a per-entity model output first (see EntityInputStage). */
  entityInput?: EntityInputStage<Settings>;
  /** A method that asks a model: every planned entity's prompts, in the order of `input.entities`. */
  buildPrompts?(input: PromptPlanInput<Settings>): MethodEntityPrompts[];
  /**
   * A method fitted without a model (a baseline): learns from the train split, then answers each
   * test cell with a value and what it used (its metadata). May be async so a long fit yields to
   * the event loop between items. A method has either buildPrompts or fit, never both.
   */
  fit?(input: FitInput<Settings>): BaselinePredictor | Promise<BaselinePredictor>;
}

/** A prompting method's buildPrompts; a fitted method (a baseline) has none, and asking for its prompts is an error naming it. */
export function promptsOf<Settings>(method: MethodDefinition<Settings>): (input: PromptPlanInput<Settings>) => MethodEntityPrompts[] {
  const build = method.buildPrompts;
  if (build === undefined) throw new Error(`method '${method.name}' is fitted on the train split and has no prompts to plan`);
  return (input) => build.call(method, input);
}

/** Whether the method asks a model (its config has a `model` section) rather than being fitted on the train split. */
export function methodUsesModel(method: Pick<MethodDefinition, 'fit'>): boolean {
  return method.fit === undefined;
}

/** Any method, whatever its settings type (the catalog holds methods of different settings). */
export type AnyMethod = MethodDefinition<any>;

const NAME_RE = /^[a-z][a-z0-9_]*$/;
const STAGE_RE = /^[A-Za-z0-9_-]+$/;

export class MethodDefinitionError extends Error {
  override name = 'MethodDefinitionError';
}

/**
 * Checks a method's declaration (name, stage list) and returns it: a bad declaration fails where
 * the method is registered, not in the middle of a run.
 */
export function defineMethod<Settings>(method: MethodDefinition<Settings>): MethodDefinition<Settings> {
  checkMethod(method, 'defineMethod');
  return method;
}

/** The declaration checks, for values that come from outside the type system (a loaded module). */
export function checkMethod(method: unknown, where: string): asserts method is AnyMethod {
  if (typeof method !== 'object' || method === null) throw new MethodDefinitionError(`${where}: a method must be an object, got ${String(method)}`);
  const m = method as Record<string, unknown>;
  const name = m.name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new MethodDefinitionError(`${where}: method name must be lower_snake_case (it is also the config section's key), got ${JSON.stringify(name)}`);
  }
  const at = `${where}: method '${name}'`;
  if (typeof m.description !== 'string' || m.description.length === 0) throw new MethodDefinitionError(`${at}: description must be a non-empty string`);
  if (typeof m.label !== 'function') throw new MethodDefinitionError(`${at}: label must be a function of its settings giving the name reports show (e.g. settings => 'few-shot (k=4)')`);
  const prompts = typeof m.buildPrompts === 'function';
  const fits = typeof m.fit === 'function';
  if (prompts === fits) throw new MethodDefinitionError(`${at}: give exactly one of buildPrompts (a method that asks a model) or fit (a method fitted on the train split)`);
  if (m.buildPrompts !== undefined && !prompts) throw new MethodDefinitionError(`${at}: buildPrompts must be a function`);
  if (m.fit !== undefined && !fits) throw new MethodDefinitionError(`${at}: fit must be a function`);
  if (m.section !== null && (typeof m.section !== 'object' || typeof (m.section as { safeParse?: unknown }).safeParse !== 'function')) {
    throw new MethodDefinitionError(`${at}: section must be a zod schema or null`);
  }
  if (m.codeVersion !== undefined && (typeof m.codeVersion !== 'number' || !Number.isInteger(m.codeVersion) || m.codeVersion < 1)) {
    throw new MethodDefinitionError(`${at}: codeVersion must be a positive integer, got ${JSON.stringify(m.codeVersion)}`);
  }
  const stages = m.stages;
  if (!Array.isArray(stages) || stages.length === 0) throw new MethodDefinitionError(`${at}: stages must list at least one stage`);
  const seen: string[] = [];
  for (const stage of stages as MethodStage[]) {
    if (typeof stage?.name !== 'string' || !STAGE_RE.test(stage.name)) throw new MethodDefinitionError(`${at}: stage name must be letters, digits, _ or -, got ${JSON.stringify(stage?.name)}`);
    if (seen.includes(stage.name)) throw new MethodDefinitionError(`${at}: stage '${stage.name}' is declared twice`);
    if (stage.kind !== 'prompt' && stage.kind !== 'fit') throw new MethodDefinitionError(`${at}: stage '${stage.name}' has unknown kind ${JSON.stringify(stage.kind)} (known: prompt, fit)`);
    if ((stage.kind === 'fit') !== fits) throw new MethodDefinitionError(`${at}: stage '${stage.name}' is a ${stage.kind} stage, but the method ${fits ? 'is fitted (fit)' : 'asks a model (buildPrompts)'}`);
    if (!Array.isArray(stage.reads)) throw new MethodDefinitionError(`${at}: stage '${stage.name}' must list the stages it reads (reads: [])`);
    const unknown = stage.reads.filter((r) => !seen.includes(r));
    if (unknown.length > 0) throw new MethodDefinitionError(`${at}: stage '${stage.name}' reads ${unknown.map((r) => `'${r}'`).join(', ')}, which is not an earlier stage`);
    seen.push(stage.name);
  }
  const input = m.entityInput as Partial<EntityInputStage<unknown>> | undefined;
  if (input !== undefined) {
    if (typeof input !== 'object' || input === null) throw new MethodDefinitionError(`${at}: entityInput must be an object`);
    if (typeof input.stage !== 'string' || !seen.includes(input.stage)) throw new MethodDefinitionError(`${at}: entityInput.stage must name one of its stages (${seen.join(', ')}), got ${JSON.stringify(input.stage)}`);
    if (typeof input.file !== 'string' || !/^[A-Za-z0-9_-]+\.txt$/.test(input.file)) throw new MethodDefinitionError(`${at}: entityInput.file must be a plain .txt file name, got ${JSON.stringify(input.file)}`);
    if (typeof input.buildPrompts !== 'function' || typeof input.sampling !== 'function') throw new MethodDefinitionError(`${at}: entityInput needs buildPrompts and sampling functions`);
  }
}
