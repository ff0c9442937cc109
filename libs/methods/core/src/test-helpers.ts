import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { STAGE_CODE, STAGE_SOURCES, type StageCodeRecord } from './stage-code';
import { rerecordStageCode, stageCodeDrift } from './stage-sources';

export const REPO_ROOT = join(__dirname, '../../../..');

/**
 * What record-stage-code would write after an edit of `file` (relative to the repository root):
 * every recorded source is copied to a scratch tree, the file gets a line appended there, and the
 * drift is re-recorded (versions raised). The repository itself is not touched.
 */
export function recordsAfterEditing(file: string): Record<string, StageCodeRecord> {
  const root = mkdtempSync(join(tmpdir(), 'assay-stage-code-'));
  try {
    return rerecordAfterEdit(root, file);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function rerecordAfterEdit(root: string, file: string): Record<string, StageCodeRecord> {
  for (const path of new Set(Object.values(STAGE_SOURCES).flat())) cpSync(join(REPO_ROOT, path), join(root, path), { recursive: true });
  const edited = join(root, file);
  if (!existsSync(dirname(edited))) throw new Error(`recordsAfterEditing: ${file} is in no recorded source folder`);
  appendFileSync(edited, '\n// an edit\n');
  return rerecordStageCode(STAGE_CODE, stageCodeDrift(root).changed, false);
}
