import picomatch from 'picomatch';
import { closest } from 'fastest-levenshtein';
import { errorMessage } from '@assay/contracts';
import type { Entity } from './dataset';
import { columnIndex } from './dataset';
import { DatasetError, readTable, where } from './table';

/**
 * Profile views: which profile columns a prompt shows and under which heading, so a prompt can
 * read "Trust in science (1-5): 4" instead of "f_017: 4", or show a demographic-only persona.
 * The config section is `profile` (see @assay/config's ProfileSection); this is where it meets the
 * data: patterns are matched against the profiles file's columns and the codebook is read and
 * checked against them, before any prompt is built.
 */

/** The `profile` config section as this lib needs it (structurally the same as the config's). */
export interface ProfileViewConfig {
  features?: { include?: string[]; exclude?: string[] };
  codebook?: string;
}

/** One shown column: where it is in every entity's feature list and the heading its line starts with. */
export interface ViewedColumn {
  name: string;
  /** Position in Entity.featureNames and Entity.values (the profiles file's column order, entity_id excluded). */
  index: number;
  /** "label (scale)", "label", or the column name when the codebook does not list it. */
  heading: string;
}

/** The shown columns in the profiles file's order. */
export interface ProfileView {
  columns: ViewedColumn[];
}

export interface CodebookEntry {
  column: string;
  label: string;
  /** Free text such as "1-5" or "years"; null when the cell is empty. */
  scale: string | null;
  line: number;
}

const CODEBOOK_COLUMNS = ['column', 'label', 'scale'] as const;

/**
 * Reads a codebook CSV (`column,label,scale`, any order, nothing else) and checks every row
 * against the profiles file's feature columns. Each problem is a DatasetError naming the file and
 * line: a column that is not in the profiles file (with the closest name), a column listed twice,
 * an empty label, a label given to two columns (the prompt could not tell them apart), a line
 * break in a label or scale (it would break the one-line-per-feature layout).
 */
export async function loadCodebook(file: string, featureNames: string[], profilesFile: string): Promise<Map<string, CodebookEntry>> {
  let table;
  try {
    table = await readTable(file);
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new DatasetError(`profile.codebook: cannot read ${file} (${code ?? errorMessage(error)})`, { cause: error });
  }
  if (table.format !== 'csv') throw new DatasetError(`${file}: a codebook must be a .csv file`);
  const col = columnIndex(table, CODEBOOK_COLUMNS);
  const known = new Set(featureNames);
  const entries = new Map<string, CodebookEntry>();
  const labelLine = new Map<string, { column: string; line: number }>();
  for (const { line, cells } of table.rows) {
    const at = where(table, line);
    const column = cells[col.column];
    if (column === '') throw new DatasetError(`${at}: empty column name`);
    if (!known.has(column)) {
      const hint = featureNames.length > 0 ? `; closest: ${JSON.stringify(closest(column, featureNames))}` : '';
      throw new DatasetError(`${at}: column ${JSON.stringify(column)} is not a feature column of ${profilesFile}${hint}`);
    }
    const first = entries.get(column);
    if (first !== undefined) throw new DatasetError(`${at}: column ${JSON.stringify(column)} is listed twice, first on line ${first.line}`);
    const label = cells[col.label].trim();
    if (label === '') throw new DatasetError(`${at}: empty label for column ${JSON.stringify(column)}`);
    const scale = cells[col.scale].trim();
    for (const [name, text] of [['label', label], ['scale', scale]] as const) {
      if (/[\r\n]/.test(text)) throw new DatasetError(`${at}: the ${name} of column ${JSON.stringify(column)} has a line break; a profile shows one line per feature`);
    }
    const sameLabel = labelLine.get(label);
    if (sameLabel !== undefined) {
      throw new DatasetError(`${at}: label ${JSON.stringify(label)} of column ${JSON.stringify(column)} is already the label of column ${JSON.stringify(sameLabel.column)} on line ${sameLabel.line}`);
    }
    labelLine.set(label, { column, line });
    entries.set(column, { column, label, scale: scale === '' ? null : scale, line });
  }
  return entries;
}

/**
 * Case-sensitive globs over column names (`*`, `?`, `[abc]`, `{a,b}`). A pattern without any of
 * those characters is a plain name and matches only itself, so a column such as "income (k)"
 * is never read as glob syntax.
 */
function matcher(pattern: string): (name: string) => boolean {
  if (!/[*?[\]{}]/.test(pattern)) return (name) => name === pattern;
  const isMatch = picomatch(pattern, { dot: true });
  // One argument only: picomatch's second parameter asks for a result object (truthy).
  return (name) => isMatch(name);
}

/**
 * The feature columns a filter keeps, in file order. Every pattern must match at least one
 * column (a typo would otherwise drop or keep a feature silently), and the result must not be
 * empty; each error names the config key (`profile.features.include[i]`, ...).
 */
export function selectFeatures(featureNames: string[], filter: NonNullable<ProfileViewConfig['features']>, profilesFile: string): string[] {
  const matchersOf = (key: 'include' | 'exclude', patterns: string[]) =>
    patterns.map((pattern, i) => {
      const match = matcher(pattern);
      if (!featureNames.some(match)) {
        const hint = featureNames.length > 0 ? ` (closest column: ${JSON.stringify(closest(pattern, featureNames))})` : '';
        throw new DatasetError(`profile.features.${key}[${i}]: ${JSON.stringify(pattern)} matches no feature column of ${profilesFile}${hint}`);
      }
      return match;
    });
  const include = filter.include === undefined ? null : matchersOf('include', filter.include);
  const exclude = filter.exclude === undefined ? [] : matchersOf('exclude', filter.exclude);
  const kept = featureNames.filter((name) => (include === null || include.some((m) => m(name))) && !exclude.some((m) => m(name)));
  if (kept.length === 0) {
    const parts = [filter.include ? `include ${JSON.stringify(filter.include)}` : '', filter.exclude ? `exclude ${JSON.stringify(filter.exclude)}` : ''].filter(Boolean);
    throw new DatasetError(`profile.features: the filter leaves no feature of ${profilesFile} (${parts.join(', ')}); a prompt needs at least one`);
  }
  return kept;
}

function heading(column: string, entry: CodebookEntry | undefined): string {
  if (entry === undefined) return column;
  return entry.scale === null ? entry.label : `${entry.label} (${entry.scale})`;
}

/**
 * The view a `profile` section asks for, or null without one (prompts then show every column
 * under its own name, exactly as they always have). Errors are DatasetErrors naming the key or
 * the codebook's file and line.
 */
export async function loadProfileView(config: ProfileViewConfig | undefined, featureNames: string[], profilesFile: string): Promise<ProfileView | null> {
  if (config === undefined) return null;
  const shown = config.features === undefined ? featureNames : selectFeatures(featureNames, config.features, profilesFile);
  const codebook = config.codebook === undefined ? new Map<string, CodebookEntry>() : await loadCodebook(config.codebook, featureNames, profilesFile);
  const position = new Map(featureNames.map((name, i) => [name, i]));
  return { columns: shown.map((name) => ({ name, index: position.get(name) as number, heading: heading(name, codebook.get(name)) })) };
}

/**
 * The entity's (column, value) pairs the view shows, in view order. Entities of one dataset list
 * their features in the same order; one that does not (built in code) is an error, never a
 * value shown under another column's heading.
 */
export function viewedFeatures(entity: Entity, view: ProfileView): Array<[ViewedColumn, string]> {
  return view.columns.map((c) => {
    const name = entity.featureNames[c.index];
    const value = entity.values[c.index];
    if (name === undefined || value === undefined || name !== c.name) {
      throw new Error(`entity ${JSON.stringify(entity.entityId)}: feature ${c.index + 1} is ${JSON.stringify(name ?? null)}, the profile view expects ${JSON.stringify(c.name)} there`);
    }
    return [c, value];
  });
}
