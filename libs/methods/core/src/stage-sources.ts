import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { STAGE_CODE, STAGE_SOURCES, type StageCodeRecord, type StageCodeRecords } from './stage-code';

/** Specs and test helpers do not change a stage's output. */
const NOT_SOURCE = /(\.spec\.ts|\/test-helpers\.ts|\.d\.ts)$/;

function sourceFiles(root: string, path: string, stage: string): string[] {
  const full = join(root, path);
  if (!existsSync(full)) throw new Error(`stage '${stage}': source ${path} does not exist (fix STAGE_SOURCES in libs/methods/core/src/stage-code.ts)`);
  if (statSync(full).isFile()) return [full];
  const files: string[] = [];
  for (const entry of readdirSync(full, { withFileTypes: true })) {
    const rel = `${path}/${entry.name}`;
    if (entry.isDirectory()) files.push(...sourceFiles(root, rel, stage));
    else if (entry.name.endsWith('.ts') && !NOT_SOURCE.test(`/${rel}`)) files.push(join(root, rel));
  }
  return files;
}

/**
 * sha256 over the contents of a stage's source files: each file's sha256, sorted, hashed again.
 * Paths are left out, so moving a file keeps the hash (the table must still name where it is).
 */
export function hashStageSources(root: string, stage: string): string {
  const paths = STAGE_SOURCES[stage];
  if (!paths) throw new Error(`stage '${stage}' has no entry in STAGE_SOURCES (libs/methods/core/src/stage-code.ts)`);
  const files = [...new Set(paths.flatMap((p) => sourceFiles(root, p, stage)))];
  if (files.length === 0) throw new Error(`stage '${stage}': its sources ${paths.join(', ')} hold no .ts file`);
  const digests = files.map((f) => createHash('sha256').update(readFileSync(f)).digest('hex')).sort();
  return createHash('sha256').update(digests.join('\n')).digest('hex');
}

export interface StageCodeDrift {
  stage: string;
  recorded: StageCodeRecord | null;
  sha256: string;
}

/** Stages whose sources hash differently from the record (or that have no record), and records of stages that no longer exist. */
export function stageCodeDrift(root: string, records: StageCodeRecords = STAGE_CODE): { changed: StageCodeDrift[]; stale: string[] } {
  const changed = Object.keys(STAGE_SOURCES)
    .map((stage) => ({ stage, recorded: records[stage] ?? null, sha256: hashStageSources(root, stage) }))
    .filter((d) => d.recorded?.sha256 !== d.sha256);
  const stale = Object.keys(records).filter((stage) => !(stage in STAGE_SOURCES));
  return { changed, stale };
}

/**
 * The records after re-recording the drift (what scripts/record-stage-code.ts writes): a changed
 * unit's hash replaced and its version raised (kept with keepVersion), a new unit at version 1,
 * stale units dropped.
 */
export function rerecordStageCode(records: StageCodeRecords, changed: readonly StageCodeDrift[], keepVersion: boolean): Record<string, StageCodeRecord> {
  const next: Record<string, StageCodeRecord> = {};
  for (const unit of Object.keys(STAGE_SOURCES).sort()) {
    const drift = changed.find((d) => d.stage === unit);
    const recorded = records[unit];
    if (!drift) next[unit] = recorded;
    else if (!recorded) next[unit] = { version: 1, sha256: drift.sha256 };
    else next[unit] = { version: keepVersion ? recorded.version : recorded.version + 1, sha256: drift.sha256 };
  }
  return next;
}
