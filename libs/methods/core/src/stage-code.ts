/**
 * The code version of each stage, for stage keys. A stage's key must change when the code its
 * output depends on changes, and only then: keying on the repository's commit would make every
 * stage of every earlier experiment unusable after any unrelated edit. So each stage declares a
 * version, and beside it the sha256 of the source files its output depends on (STAGE_SOURCES).
 * A unit spec (stage-code.spec.ts) hashes those files again and fails when they changed without
 * the record being updated; `npm run build && node dist/scripts/record-stage-code.js` re-records
 * the hashes and bumps the version of every stage whose sources changed (`--keep-version` for a
 * change that cannot change the stage's output, e.g. a comment: earlier outputs stay reusable).
 *
 * A stage that runs a method's own code (its prompts, its fit) is recorded per method, as
 * `<method>/<stage>`: its sources are the code every method shares plus that method's folder
 * only, so editing one method's prompts moves that method's keys and leaves every other method's
 * outputs reusable. A method registered from outside this record (ASSAY_METHOD_MODULES, a test)
 * declares its own `codeVersion`; its keys carry that and the recorded version of the shared code
 * (`prompt` or `fit`). A method that is in neither is an error, never a default version.
 */

/**
 * Where each stage's code lives, relative to the repository root: files, or folders (every .ts file
 * below them except specs and test helpers). One table, so a file that moves is fixed in one place;
 * the hash covers file contents only, not their paths, so a move alone keeps the recorded hash.
 */
const PROMPT_SHARED_SOURCES = [
  'libs/prompting/src',
  'libs/data/src',
  'libs/methods/core/src/method.ts',
  'libs/experiments/src/plan/prepare.ts',
  'libs/experiments/src/plan/plan-events.ts',
  'libs/experiments/src/plan/plan-pages.ts',
  'libs/experiments/src/plan/model-settings.ts',
  'libs/experiments/src/smoke/smoke-batch.ts',
  'libs/experiments/src/plan/entity-input.ts',
  'libs/inference/src/model-client.ts',
  'libs/inference/src/run-batch.ts',
] as const;

const FIT_SHARED_SOURCES = ['libs/methods/core/src/method.ts', 'libs/experiments/src/score/fit.ts', 'libs/experiments/src/plan/labels.ts', 'libs/evaluation/src', 'libs/data/src'] as const;

/** What kind of method code a stage runs: the shared part of its sources. */
export type MethodCodeKind = 'prompt' | 'fit';

const SHARED_SOURCES: Readonly<Record<MethodCodeKind, readonly string[]>> = { prompt: PROMPT_SHARED_SOURCES, fit: FIT_SHARED_SOURCES };

/**
 * Each built-in method's own folder, the kind of code it runs and the stages of its stage table
 * (libs/experiments/src/experiment/stages.ts) that run it. The four baselines share one folder.
 */
const BUILTIN_METHOD_CODE: Readonly<Record<string, { folder: string; kind: MethodCodeKind; stages: readonly string[] }>> = {
  llm_zero_shot: { folder: 'libs/methods/llm-zero-shot/src', kind: 'prompt', stages: ['smoke_inference', 'inference'] },
  llm_few_shot: { folder: 'libs/methods/llm-few-shot/src', kind: 'prompt', stages: ['smoke_inference', 'inference'] },
  llm_persona_two_stage: { folder: 'libs/methods/llm-persona-two-stage/src', kind: 'prompt', stages: ['summary', 'inference'] },
  baseline_train_mean: { folder: 'libs/methods/baselines/src', kind: 'fit', stages: ['fit'] },
  baseline_majority: { folder: 'libs/methods/baselines/src', kind: 'fit', stages: ['fit'] },
  baseline_knn: { folder: 'libs/methods/baselines/src', kind: 'fit', stages: ['fit'] },
  baseline_linear: { folder: 'libs/methods/baselines/src', kind: 'fit', stages: ['fit'] },
};

/** The record's name of a built-in method's stage. */
export const methodStageUnit = (method: string, stage: string): string => `${method}/${stage}`;
/** The record's name of the code shared by every method's stages of a kind (what a method from a module adds its own version to). */
export const sharedUnit = (kind: MethodCodeKind): string => `shared/${kind}`;

/** Stages whose code is the same whatever the method: recorded by their name alone. */
const METHOD_FREE_SOURCES: Readonly<Record<string, readonly string[]>> = {
  scoring: ['libs/experiments/src/score/scoring.ts', 'libs/experiments/src/plan/labels.ts', 'libs/evaluation/src'],
  report: ['libs/report/src', 'libs/experiments/src/report/run-report.ts'],
};

/** Every recorded unit with its sources: `<method>/<stage>`, `shared/<kind>`, and the method-free stages. */
export const STAGE_SOURCES: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(
    Object.entries(BUILTIN_METHOD_CODE).flatMap(([method, code]) => code.stages.map((stage) => [methodStageUnit(method, stage), [...SHARED_SOURCES[code.kind], code.folder]])),
  ),
  ...Object.fromEntries(Object.entries(SHARED_SOURCES).map(([kind, sources]) => [sharedUnit(kind as MethodCodeKind), sources])),
  ...METHOD_FREE_SOURCES,
};

export interface StageCodeRecord {
  /** Declared version: bumped when the stage's output may change (a new version is never reused from an older one). */
  version: number;
  /** sha256 over the stage's source files' contents (see hashStageSources). */
  sha256: string;
}

// BEGIN RECORDED STAGE CODE (written by scripts/record-stage-code.ts)
export const STAGE_CODE: Readonly<Record<string, StageCodeRecord>> = {
  'baseline_knn/fit': { version: 1, sha256: '77f304e14497c4cfdf55d4f065f446ab33c4149d75b15ae0e43aac038c0c9d76' },
  'baseline_linear/fit': { version: 1, sha256: '77f304e14497c4cfdf55d4f065f446ab33c4149d75b15ae0e43aac038c0c9d76' },
  'baseline_majority/fit': { version: 1, sha256: '77f304e14497c4cfdf55d4f065f446ab33c4149d75b15ae0e43aac038c0c9d76' },
  'baseline_train_mean/fit': { version: 1, sha256: '77f304e14497c4cfdf55d4f065f446ab33c4149d75b15ae0e43aac038c0c9d76' },
  'llm_few_shot/inference': { version: 1, sha256: 'd86461fbdb6b0b3ba253d89b9dd4da0f657b49bab3365912542f3a92e87ec97e' },
  'llm_few_shot/smoke_inference': { version: 1, sha256: 'd86461fbdb6b0b3ba253d89b9dd4da0f657b49bab3365912542f3a92e87ec97e' },
  'llm_persona_two_stage/inference': { version: 1, sha256: '55efc63586a57661218d313d6802ea89f9464244572cdd6d2cbb2b319cc3d32b' },
  'llm_persona_two_stage/summary': { version: 1, sha256: '55efc63586a57661218d313d6802ea89f9464244572cdd6d2cbb2b319cc3d32b' },
  'llm_zero_shot/inference': { version: 1, sha256: '6dfb551b3b4572226a9d5523c1b9651ea2d0385a97329163c24c3486e8024741' },
  'llm_zero_shot/smoke_inference': { version: 1, sha256: '6dfb551b3b4572226a9d5523c1b9651ea2d0385a97329163c24c3486e8024741' },
  report: { version: 2, sha256: '2508cd0186e46ca08e5ca7c0c2ba30708d689d1ece706bd0b2b24a0e66f6d08f' },
  scoring: { version: 1, sha256: 'ddf0381ace7049d59b274baf08b60893c0133770bb0c9183c8ea41efcbcc5c2b' },
  'shared/fit': { version: 1, sha256: '08372665f18e987b5bf77163ebcb872df3dccc77196ed41f3a03474f62ddedfe' },
  'shared/prompt': { version: 1, sha256: '93cdb0e7ba151196a7b9dbaaa22e0a754f75d444ecc54c6e38b6a52634a11bd7' },
};
// END RECORDED STAGE CODE

const HOW_TO_RECORD = "run 'npm run build && node dist/scripts/record-stage-code.js'";

/** Recorded code versions by unit: STAGE_CODE, or a re-recorded table (a spec showing what an edit would move). */
export type StageCodeRecords = Readonly<Record<string, StageCodeRecord>>;

function recordOf(unit: string, records: StageCodeRecords): StageCodeRecord {
  const record = records[unit];
  if (!record) {
    throw new Error(`'${unit}' has no recorded code version (known: ${Object.keys(records).join(', ')}): list its sources in STAGE_SOURCES (libs/methods/core/src/stage-code.ts), then ${HOW_TO_RECORD}`);
  }
  return record;
}

/** The version the key of a stage that runs no method code carries (scoring, report): `<stage>@v<version>`. */
export function stageCodeVersion(stage: string, records: StageCodeRecords = STAGE_CODE): string {
  if (!(stage in METHOD_FREE_SOURCES)) {
    throw new Error(`stage '${stage}' is not one of the stages every method shares (${Object.keys(METHOD_FREE_SOURCES).join(', ')}); a stage that runs a method's code takes its version from methodStageCodeVersion`);
  }
  return `${stage}@v${recordOf(stage, records).version}`;
}

/** What the code version of a method's stage needs from the method's definition. */
export interface MethodCodeOwner {
  name: string;
  /** Declared by a method that is not built in (see MethodDefinition.codeVersion). */
  codeVersion?: number;
}

/**
 * The version the key of a stage that runs the method's own code carries. A built-in method's is
 * recorded per (method, stage): `<stage>@v<version>` (the key also hashes the method's name). A
 * method from a module declares codeVersion, and its stages carry it with the shared code's
 * recorded version: `<stage>@shared/<kind>-v<version>+<method>-v<codeVersion>`.
 */
export function methodStageCodeVersion(method: MethodCodeOwner, stage: string, kind: MethodCodeKind, records: StageCodeRecords = STAGE_CODE): string {
  const builtin = BUILTIN_METHOD_CODE[method.name];
  if (builtin !== undefined) {
    if (method.codeVersion !== undefined) {
      throw new Error(`method '${method.name}' is built in: its code version is recorded from ${builtin.folder} (libs/methods/core/src/stage-code.ts), so its definition must not declare codeVersion`);
    }
    if (builtin.kind !== kind || !builtin.stages.includes(stage)) {
      throw new Error(`stage '${stage}' (${kind}) of method '${method.name}' has no recorded code version (recorded: ${builtin.stages.join(', ')}, ${builtin.kind}): fix BUILTIN_METHOD_CODE in libs/methods/core/src/stage-code.ts, then ${HOW_TO_RECORD}`);
    }
    return `${stage}@v${recordOf(methodStageUnit(method.name, stage), records).version}`;
  }
  if (method.codeVersion === undefined) {
    throw new Error(
      `method '${method.name}' is not built in, so its stage keys need the version of its own code: declare codeVersion in its definition (a positive integer, raised whenever its prompts or fit may change)`,
    );
  }
  return `${stage}@${sharedUnit(kind)}-v${recordOf(sharedUnit(kind), records).version}+${method.name}-v${method.codeVersion}`;
}
