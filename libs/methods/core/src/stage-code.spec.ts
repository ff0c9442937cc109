import { methodStageCodeVersion, STAGE_CODE, STAGE_SOURCES, stageCodeVersion } from './stage-code';
import { stageCodeDrift } from './stage-sources';
import { recordsAfterEditing, REPO_ROOT } from './test-helpers';

const HOW = "re-record with 'npm run build && node dist/scripts/record-stage-code.js' (bumps the changed stages' versions; add --keep-version when the change cannot change the stage's output)";

const zeroShot = { name: 'llm_zero_shot' };
const fewShot = { name: 'llm_few_shot' };

describe('stage code versions', () => {
  it('given the source tree, when each stage\'s sources are hashed again, then every hash matches its record', () => {
    const { changed, stale } = stageCodeDrift(REPO_ROOT);
    const lines = changed.map((d) => `${d.stage}: recorded ${d.recorded ? `v${d.recorded.version} ${d.recorded.sha256.slice(0, 12)}` : 'nothing'}, sources now hash ${d.sha256.slice(0, 12)}`);
    if (lines.length > 0) throw new Error(`stage sources changed without their code version being re-recorded:\n  ${lines.join('\n  ')}\n${HOW}`);
    expect(stale).toEqual([]);
  });

  it('given every recorded unit, then each has sources and a version, and a built-in method\'s stage carries its own', () => {
    expect(Object.keys(STAGE_CODE).sort()).toEqual(Object.keys(STAGE_SOURCES).sort());
    expect(methodStageCodeVersion(fewShot, 'inference', 'prompt')).toBe(`inference@v${STAGE_CODE['llm_few_shot/inference'].version}`);
    expect(methodStageCodeVersion({ name: 'baseline_knn' }, 'fit', 'fit')).toBe(`fit@v${STAGE_CODE['baseline_knn/fit'].version}`);
    expect(stageCodeVersion('report')).toBe(`report@v${STAGE_CODE.report.version}`);
  });

  it('given a stage that is not recorded, then asking its version is an error saying how to record it', () => {
    expect(() => stageCodeVersion('no_such_stage')).toThrow(/not one of the stages every method shares/);
    expect(() => methodStageCodeVersion(zeroShot, 'summary', 'prompt')).toThrow(/stage 'summary' \(prompt\) of method 'llm_zero_shot' has no recorded code version.*record-stage-code/);
  });

  it('given a method from a module with a declared codeVersion, then its stages carry it and the shared prompt code\'s version', () => {
    expect(methodStageCodeVersion({ name: 'toy', codeVersion: 3 }, 'inference', 'prompt')).toBe(`inference@shared/prompt-v${STAGE_CODE['shared/prompt'].version}+toy-v3`);
    expect(methodStageCodeVersion({ name: 'toy_fit', codeVersion: 1 }, 'fit', 'fit')).toBe(`fit@shared/fit-v${STAGE_CODE['shared/fit'].version}+toy_fit-v1`);
  });

  it('given a method from a module without codeVersion, then its stage version is an error saying to declare one, never a default', () => {
    expect(() => methodStageCodeVersion({ name: 'toy' }, 'inference', 'prompt')).toThrow("method 'toy' is not built in, so its stage keys need the version of its own code: declare codeVersion");
  });

  it('given a built-in method that declares codeVersion, then it is refused: its version is the recorded one', () => {
    expect(() => methodStageCodeVersion({ name: 'llm_zero_shot', codeVersion: 2 }, 'inference', 'prompt')).toThrow(/built in.*must not declare codeVersion/);
  });

  describe('what an edit moves (each edit made in a scratch copy of the sources, then re-recorded)', () => {
    it('given an edit of few-shot\'s folder, then few-shot\'s prompt stages get a new version and no other method\'s stage does', () => {
      const after = recordsAfterEditing('libs/methods/llm-few-shot/src/method.ts');
      const moved = Object.keys(STAGE_CODE).filter((unit) => after[unit].version !== STAGE_CODE[unit].version);
      expect(moved.sort()).toEqual(['llm_few_shot/inference', 'llm_few_shot/smoke_inference']);
      expect(methodStageCodeVersion(zeroShot, 'inference', 'prompt', after)).toBe(methodStageCodeVersion(zeroShot, 'inference', 'prompt'));
      expect(methodStageCodeVersion(fewShot, 'inference', 'prompt', after)).not.toBe(methodStageCodeVersion(fewShot, 'inference', 'prompt'));
    });

    it('given an edit of the shared prompt code, then every prompting method\'s stages move, and a module method\'s through shared/prompt; the fitted ones stay', () => {
      const after = recordsAfterEditing('libs/prompting/src/index.ts');
      const moved = Object.keys(STAGE_CODE).filter((unit) => after[unit].version !== STAGE_CODE[unit].version);
      expect(moved.sort()).toEqual([
        'llm_few_shot/inference',
        'llm_few_shot/smoke_inference',
        'llm_persona_two_stage/inference',
        'llm_persona_two_stage/summary',
        'llm_zero_shot/inference',
        'llm_zero_shot/smoke_inference',
        'shared/prompt',
      ]);
      expect(methodStageCodeVersion({ name: 'toy', codeVersion: 1 }, 'inference', 'prompt', after)).not.toBe(methodStageCodeVersion({ name: 'toy', codeVersion: 1 }, 'inference', 'prompt'));
    });

    it('given an edit of the baselines\' folder, then only the baselines\' fit stages move', () => {
      const after = recordsAfterEditing('libs/methods/baselines/src/methods.ts');
      const moved = Object.keys(STAGE_CODE).filter((unit) => after[unit].version !== STAGE_CODE[unit].version);
      expect(moved.sort()).toEqual(['baseline_knn/fit', 'baseline_linear/fit', 'baseline_majority/fit', 'baseline_train_mean/fit']);
    });
  });
});
