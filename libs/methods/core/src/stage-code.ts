/**
 * The code version of each stage, for stage keys. A stage's key must change when the code its
 * output depends on changes, and only then: keying on the repository's commit would make every
 * stage of every earlier experiment unusable after any unrelated edit. So each stage declares a
 * version, and beside it the sha256 of the source files its output depends on (STAGE_SOURCES).
 * A unit spec (stage-code.spec.ts) hashes those files again and fails when they changed without
 * the record being updated; `npm run build && node dist/scripts/record-stage-code.js` re-records
 * the hashes and bumps the version of every stage whose sources changed (`--keep-version` for a
 * change that cannot change the stage's output, e.g. a comment: earlier outputs stay reusable).
 */

/**
 * Where each stage's code lives, relative to the repository root: files, or folders (every .ts file
 * below them except specs and test helpers). One table, so a file that moves is fixed in one place;
 * the hash covers file contents only, not their paths, so a move alone keeps the recorded hash.
 */
const PROMPT_STAGE_SOURCES = [
  'libs/prompting/src',
  'libs/data/src',
  'libs/methods/core/src/method.ts',
  'libs/methods/llm-zero-shot/src',
  'libs/methods/llm-few-shot/src',
  'libs/methods/llm-persona-two-stage/src',
  'libs/experiments/src/plan/prepare.ts',
  'libs/experiments/src/plan/plan-events.ts',
  'libs/experiments/src/plan/model-settings.ts',
  'libs/experiments/src/smoke/smoke-batch.ts',
  'libs/experiments/src/plan/entity-input.ts',
  'libs/inference/src/model-client.ts',
  'libs/inference/src/run-batch.ts',
] as const;

export const STAGE_SOURCES: Readonly<Record<string, readonly string[]>> = {
  summary: PROMPT_STAGE_SOURCES,
  smoke_inference: PROMPT_STAGE_SOURCES,
  inference: PROMPT_STAGE_SOURCES,
  fit: ['libs/methods/baselines/src', 'libs/methods/core/src/method.ts', 'libs/experiments/src/score/fit.ts', 'libs/experiments/src/plan/labels.ts', 'libs/evaluation/src', 'libs/data/src'],
  scoring: ['libs/experiments/src/score/scoring.ts', 'libs/experiments/src/plan/labels.ts', 'libs/evaluation/src'],
  report: ['libs/report/src', 'libs/experiments/src/report/run-report.ts'],
};

export interface StageCodeRecord {
  /** Declared version: bumped when the stage's output may change (a new version is never reused from an older one). */
  version: number;
  /** sha256 over the stage's source files' contents (see hashStageSources). */
  sha256: string;
}

// BEGIN RECORDED STAGE CODE (written by scripts/record-stage-code.ts)
export const STAGE_CODE: Readonly<Record<string, StageCodeRecord>> = {
  fit: { version: 1, sha256: '477adea1ad9af2b4b06cd0ecd297e5db1addf8d61612e15e350d6807130ec4e3' },
  inference: { version: 1, sha256: 'b91ae8c7b80017db27c515f3f66c083e680fb35a9237b9623bc9fcf5d341492b' },
  report: { version: 1, sha256: '276304926a2b9653d516ed516d167121052068de9fae2edade5c8a1322153a02' },
  scoring: { version: 1, sha256: '11d53177e5abb93af656760b496aede1bcc008c9a3d36a54cb11fde1056ce67b' },
  smoke_inference: { version: 1, sha256: 'b91ae8c7b80017db27c515f3f66c083e680fb35a9237b9623bc9fcf5d341492b' },
  summary: { version: 1, sha256: 'b91ae8c7b80017db27c515f3f66c083e680fb35a9237b9623bc9fcf5d341492b' },
};
// END RECORDED STAGE CODE

/** The version a stage key carries: `<stage>@v<version>`. An unknown stage is an error, never a default. */
export function stageCodeVersion(stage: string): string {
  const record = STAGE_CODE[stage];
  if (!record) {
    throw new Error(
      `stage '${stage}' has no recorded code version (known: ${Object.keys(STAGE_CODE).join(', ')}): list its sources in STAGE_SOURCES (libs/methods/core/src/stage-code.ts), then run 'npm run build && node dist/scripts/record-stage-code.js'`,
    );
  }
  return `${stage}@v${record.version}`;
}
