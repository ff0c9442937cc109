import { join } from 'node:path';
import { STAGE_CODE, STAGE_SOURCES, stageCodeVersion } from './stage-code';
import { stageCodeDrift } from './stage-sources';

const ROOT = join(__dirname, '../../../..');
const HOW = "re-record with 'npm run build && node dist/scripts/record-stage-code.js' (bumps the changed stages' versions; add --keep-version when the change cannot change the stage's output)";

describe('stage code versions', () => {
  it('given the source tree, when each stage\'s sources are hashed again, then every hash matches its record', () => {
    const { changed, stale } = stageCodeDrift(ROOT);
    const lines = changed.map((d) => `${d.stage}: recorded ${d.recorded ? `v${d.recorded.version} ${d.recorded.sha256.slice(0, 12)}` : 'nothing'}, sources now hash ${d.sha256.slice(0, 12)}`);
    if (lines.length > 0) throw new Error(`stage sources changed without their code version being re-recorded:\n  ${lines.join('\n  ')}\n${HOW}`);
    expect(stale).toEqual([]);
  });

  it('given every stage with sources, then each has a recorded version that stage keys use', () => {
    for (const stage of Object.keys(STAGE_SOURCES)) expect(stageCodeVersion(stage)).toBe(`${stage}@v${STAGE_CODE[stage].version}`);
  });

  it('given a stage without a record, then asking its version is an error saying how to record it', () => {
    expect(() => stageCodeVersion('no_such_stage')).toThrow(/no recorded code version.*record-stage-code/);
  });
});
