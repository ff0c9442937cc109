/**
 * Re-records each stage's source hash (and bumps the version of each stage whose sources changed)
 * in libs/methods/core/src/stage-code.ts: one record per built-in method's stage
 * (`<method>/<stage>`), per shared code (`shared/prompt`, `shared/fit`) and per method-free stage. Run from the repository root:
 *   npm run build && node dist/scripts/record-stage-code.js [--keep-version]
 * --keep-version re-records the hashes only: for a change that cannot change any stage's output
 * (a comment, a rename), so outputs logged before it stay reusable.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STAGE_CODE } from '../libs/methods/core/src/stage-code';
import { rerecordStageCode, stageCodeDrift } from '../libs/methods/core/src/stage-sources';

const BEGIN = '// BEGIN RECORDED STAGE CODE (written by scripts/record-stage-code.ts)';
const END = '// END RECORDED STAGE CODE';

function main(): void {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--keep-version');
  if (unknown.length > 0) throw new Error(`record-stage-code: unknown argument(s) ${unknown.join(' ')} (usage: node dist/scripts/record-stage-code.js [--keep-version])`);
  const keepVersion = args.includes('--keep-version');
  const root = process.cwd();
  const file = join(root, 'libs/methods/core/src/stage-code.ts');
  if (!existsSync(file)) throw new Error(`record-stage-code: run it from the repository root (${file} not found)`);
  const { changed } = stageCodeDrift(root);
  const records = rerecordStageCode(STAGE_CODE, changed, keepVersion);
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start === -1 || end === -1 || end < start) throw new Error(`record-stage-code: ${file} lacks the markers '${BEGIN}' / '${END}'`);
  const body = Object.entries(records)
    .map(([stage, r]) => `  ${/^[A-Za-z_][A-Za-z0-9_]*$/.test(stage) ? stage : `'${stage}'`}: { version: ${r.version}, sha256: '${r.sha256}' },`)
    .join('\n');
  const block = `${BEGIN}\nexport const STAGE_CODE: Readonly<Record<string, StageCodeRecord>> = {\n${body}\n};\n`;
  writeFileSync(file, text.slice(0, start) + block + text.slice(end));
  for (const d of changed) process.stdout.write(`${d.stage}: sources changed -> v${records[d.stage].version} (${d.sha256.slice(0, 12)})\n`);
  if (changed.length === 0) process.stdout.write('every stage\'s sources match the record\n');
}

main();
