import * as path from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { ConfigError, type ConfigIssue, where } from './errors';
import { AnyExperimentConfig, PROMPT_PLACEHOLDERS, SHARED_KEYS } from './schema';

/** Where a key was written: the loader knows this per merged key; a bare parse only knows its origin. */
export interface Location {
  file: string;
  line?: number;
  column?: number;
}
export type Locate = (keyPath: string) => Location;

export const DATA_KEYS = ['profiles', 'responses', 'items', 'split'] as const;

/**
 * The registered methods, as the config parser needs them: their names and each one's section
 * schema (null: the method takes no section). The method registry provides it; the config lib
 * only knows this shape, so it stays at the bottom of the dependency graph.
 */
export interface MethodSections {
  names(): string[];
  /** The section schema of a registered method (null when it has none). */
  sectionOf(name: string): z.ZodType | null;
  /** Whether the method asks a model (its config needs a `model` section) or is fitted without one (the section is an error). */
  usesModel(name: string): boolean;
}

/**
 * Strictly parses an already-merged raw config (no `_base`/`_presets`) into the resolved config.
 * Relative `data.*`, `model.chat_template` and `profile.codebook` paths resolve against the folder of `origin`
 * (the loader has already made them absolute per declaring file); `output_root` resolves against
 * the working directory. Throws ConfigError listing every issue.
 */
export function parseExperimentConfig(raw: unknown, origin: string, methods?: MethodSections): AnyExperimentConfig {
  return parseWithLocations(raw, origin, () => ({ file: origin }), methods);
}

/**
 * Without `methods`, the method's section (the top-level key named like `method`) is kept as
 * written, unvalidated; with it, `method` must be registered and its section is parsed by the
 * method's schema (defaults applied).
 */
export function parseWithLocations(raw: unknown, origin: string, locate: Locate, methods?: MethodSections): AnyExperimentConfig {
  if (!isPlainObject(raw)) {
    throw new ConfigError({
      path: '',
      file: origin,
      message: `${where(origin)}: expected a mapping of config keys at the top level, found ${describeValue(raw, '')}`,
    });
  }
  const result = AnyExperimentConfig.safeParse(raw);
  const issues = result.success ? [] : result.error.issues.flatMap((issue) => toConfigIssues(issue, raw, origin, locate));
  const section = methodSection(raw, origin, locate, methods);
  issues.push(...section.issues, ...modelSectionIssues(raw, origin, locate, methods));
  if (!result.success || issues.length > 0) throw new ConfigError(issues);
  const shared = Object.fromEntries(Object.entries(result.data).filter(([key]) => SHARED_KEYS.includes(key)));
  const config = { ...shared, ...section.value } as AnyExperimentConfig;
  return resolvePaths(config, path.dirname(path.resolve(origin)));
}

/**
 * A method that asks a model needs the `model` section; a method fitted on the train split (a
 * baseline) has none, and one written there is an error rather than settings silently ignored.
 */
function modelSectionIssues(raw: Record<string, unknown>, origin: string, locate: Locate, methods: MethodSections | undefined): ConfigIssue[] {
  const method = typeof raw.method === 'string' ? raw.method : undefined;
  if (methods === undefined || method === undefined || !methods.names().includes(method)) {
    return raw.model === undefined ? [{ path: 'model', file: origin, message: `missing required key 'model' in ${where(origin)} (expected mapping)` }] : [];
  }
  if (methods.usesModel(method) && raw.model === undefined) {
    return [{ path: 'model', file: origin, message: `missing required key 'model' in ${where(origin)}: method '${method}' asks a model (model.id, model.base_url)` }];
  }
  if (!methods.usesModel(method) && raw.model !== undefined) {
    const loc = locate('model');
    return [{ path: 'model', ...loc, message: `key 'model' in ${where(loc.file, loc.line, loc.column)}: method '${method}' is fitted on the train split and asks no model, so the 'model' section must be removed` }];
  }
  return [];
}

/** The method's own section (`{[method]: parsed}`, empty without one) and the problems of every non-shared top-level key. */
function methodSection(raw: Record<string, unknown>, origin: string, locate: Locate, methods: MethodSections | undefined): { value: Record<string, unknown>; issues: ConfigIssue[] } {
  const method = typeof raw.method === 'string' ? raw.method : undefined;
  const issues: ConfigIssue[] = [];
  const value: Record<string, unknown> = {};
  const registered = methods?.names() ?? [];
  if (methods !== undefined && method !== undefined && !registered.includes(method)) {
    const loc = locate('method');
    issues.push({ path: 'method', ...loc, message: `unknown method '${method}' in ${where(loc.file, loc.line, loc.column)} (did you mean '${closest(method, registered)}'?); registered methods: ${registered.join(', ')}` });
  }
  for (const key of Object.keys(raw).filter((k) => !SHARED_KEYS.includes(k))) {
    const loc = locate(key);
    const at = `'${key}' in ${where(loc.file, loc.line, loc.column)}`;
    if (key !== method && registered.includes(key)) {
      issues.push({ path: key, ...loc, message: `section ${at} holds the settings of method '${key}', but method is '${String(raw.method)}': remove it or set method: ${key}` });
    } else if (key !== method) {
      issues.push({ path: key, ...loc, message: `unknown key ${at} (${suggestKey([], key)})` });
    } else if (methods === undefined) {
      value[key] = raw[key];
    } else if (registered.includes(key) && methods.sectionOf(key) === null) {
      issues.push({ path: key, ...loc, message: `method '${key}' takes no settings, so the section ${at} must be removed` });
    }
  }
  const schema = methods !== undefined && method !== undefined && registered.includes(method) ? methods.sectionOf(method) : null;
  if (schema !== null && method !== undefined) {
    const parsed = schema.safeParse(raw[method] ?? {});
    if (parsed.success) value[method] = parsed.data;
    else {
      const sections = new Map([[method, schema]]);
      const rooted = { ...raw, [method]: raw[method] ?? {} };
      issues.push(...parsed.error.issues.flatMap((issue) => toConfigIssues({ ...issue, path: [method, ...issue.path] } as z.core.$ZodIssue, rooted, origin, locate, sections)));
    }
  }
  return { value, issues };
}

/** Makes every location-valued field absolute, so the resolved config means the same from any cwd. */
function resolvePaths(config: AnyExperimentConfig, baseDir: string): AnyExperimentConfig {
  const data = { ...config.data };
  for (const key of DATA_KEYS) data[key] = path.resolve(baseDir, data[key]);
  const template = config.model?.chat_template;
  return {
    ...config,
    data,
    ...(config.model === undefined || template === undefined
      ? {}
      : { model: { ...config.model, chat_template: template.startsWith('builtin:') ? template : path.resolve(baseDir, template) } }),
    ...(config.profile?.codebook === undefined ? {} : { profile: { ...config.profile, codebook: path.resolve(baseDir, config.profile.codebook) } }),
    output_root: path.resolve(process.cwd(), config.output_root),
  };
}

/** What a key taking one of several shapes expects, in user terms. */
const UNION_EXPECTED: Record<string, string> = { 'model.base_url': 'an http(s) URL, or a list of them (replicas)' };

type SectionRoots = ReadonlyMap<string, AnySchema>;

function toConfigIssues(issue: z.core.$ZodIssue, raw: Record<string, unknown>, origin: string, locate: Locate, sections: SectionRoots = new Map()): ConfigIssue[] {
  const segs = issue.path.map(String);
  const keyPath = segs.join('.');

  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const full = [...segs, key].join('.');
      const loc = locate(full);
      return {
        path: full,
        ...loc,
        message: `unknown key '${full}' in ${where(loc.file, loc.line, loc.column)} (${suggestKey(segs, key, sections)})`,
      };
    });
  }

  const value = valueAt(raw, segs);
  const missing = value === undefined && (segs.length === 0 || isPlainObject(valueAt(raw, segs.slice(0, -1))));
  if (issue.code === 'invalid_union' && missing) {
    return [{ path: keyPath, file: origin, message: `missing required key '${keyPath}' in ${where(origin)} (expected ${UNION_EXPECTED[keyPath] ?? 'a value'})` }];
  }
  if (issue.code === 'invalid_union' && !missing) {
    // One value or a list (model.base_url): the branch of the value's own shape says what is wrong with it.
    const branch = issue.errors.find((errors) => !errors.some((e) => e.code === 'invalid_type' && e.path.length === 0)) ?? [];
    if (branch.length > 0) return branch.flatMap((e) => toConfigIssues({ ...e, path: [...issue.path, ...e.path] } as z.core.$ZodIssue, raw, origin, locate, sections));
    const loc = locate(keyPath);
    return [{ path: keyPath, ...loc, message: `invalid value for '${keyPath}' in ${where(loc.file, loc.line, loc.column)}: expected ${UNION_EXPECTED[keyPath] ?? 'another value'}, found ${describeValue(value, keyPath)}` }];
  }
  if (issue.code === 'invalid_type' && missing) {
    // Not written anywhere, so there is no line to point at: name the file being loaded.
    return [{ path: keyPath, file: origin, message: `missing required key '${keyPath}' in ${where(origin)} (expected ${expectedOf(segs, issue.expected, sections)})` }];
  }

  const loc = locate(keyPath);
  const found = describeValue(value, keyPath);
  const at = `'${keyPath}' in ${where(loc.file, loc.line, loc.column)}`;
  let detail: string;
  switch (issue.code) {
    case 'invalid_type':
      detail = `expected ${expectedOf(segs, issue.expected, sections)}, found ${found}`;
      break;
    case 'invalid_value': {
      const options = issue.values.map((v) => String(v));
      const hint = typeof value === 'string' && options.length > 0 ? ` (did you mean '${closest(value, options)}'?)` : '';
      detail = `expected one of ${options.join(', ')}, found ${found}${hint}`;
      break;
    }
    case 'too_small':
      detail = boundText(issue.origin, 'small', issue.minimum, issue.inclusive, found);
      break;
    case 'too_big':
      detail = boundText(issue.origin, 'big', issue.maximum, issue.inclusive, found);
      break;
    case 'custom': {
      const params = (issue.params ?? {}) as { placeholder?: string; omitFound?: boolean };
      if (params.placeholder) {
        detail = `unknown placeholder '{${params.placeholder}}' (known: ${PROMPT_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}; did you mean '{${closest(params.placeholder, [...PROMPT_PLACEHOLDERS])}}'?)`;
      } else {
        detail = params.omitFound ? issue.message : `${issue.message}, found ${found}`;
      }
      break;
    }
    default:
      detail = `${issue.message}, found ${found}`;
  }
  return [{ path: keyPath, ...loc, message: `invalid value for ${at}: ${detail}` }];
}

function boundText(origin: string, side: 'small' | 'big', bound: number | bigint, inclusive: boolean | undefined, found: string): string {
  const op = side === 'small' ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
  if (origin === 'string' && side === 'small' && Number(bound) === 1) return `must not be empty, found ${found}`;
  if (origin === 'array' && side === 'small') {
    return `must list at least ${bound} item(s) (use null for "all"), found ${found}`;
  }
  const what = origin === 'string' ? 'length' : origin === 'array' ? 'number of items' : 'value';
  return `${what} must be ${op} ${bound}, found ${found}`;
}

/** Names the expected type in user terms, adding "or null" where null is allowed. */
function expectedOf(segs: string[], expected: string, sections: SectionRoots): string {
  const names: Record<string, string> = { int: 'integer', number: 'number', string: 'string', boolean: 'boolean (true/false)', array: 'list', object: 'mapping' };
  const schema = schemaAt(segs, sections);
  // zod reports "number" for a string given to z.int(); the schema knows it wants an integer.
  const wantsInt = schema !== undefined && (unwrap(schema)._zod.def as { format?: string }).format === 'safeint';
  const base = wantsInt ? 'integer' : (names[expected] ?? expected);
  return schema && isNullable(schema) ? `${base} or null` : base;
}

/** Message hint for an unknown key: the same key in another section, else the nearest sibling. */
function suggestKey(parentSegs: string[], key: string, sections: SectionRoots = new Map()): string {
  if (parentSegs.length === 0 && (key === '_base' || key === '_presets')) {
    return `'${key}' is resolved by loadExperimentConfig, not by parseExperimentConfig`;
  }
  const siblings = objectKeysAt(parentSegs, sections);
  const misplaced = sections.has(parentSegs[0] ?? '') ? [] : allKeyPaths().filter((p) => p.split('.').pop() === key && p !== [...parentSegs, key].join('.'));
  if (misplaced.length > 0) return `did you mean '${misplaced[0]}'?`;
  if (siblings.length === 0) return 'no keys are allowed here';
  const best = closest(key, siblings);
  // A far-off "closest" key is noise; list the valid ones instead.
  if (distance(key, best) <= Math.max(2, Math.floor(key.length / 2))) return `did you mean '${[...parentSegs, best].join('.')}'?`;
  return `valid keys here: ${siblings.join(', ')}`;
}

// ---- schema introspection (zod v4 internals: def.type / innerType / shape) ----

type AnySchema = z.core.$ZodType;

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    const def = s._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema };
    if (def.innerType && ['default', 'prefault', 'optional', 'nullable', 'readonly', 'nonoptional', 'catch'].includes(def.type)) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}

function isNullable(schema: AnySchema): boolean {
  let s = schema;
  for (;;) {
    const def = s._zod.def as { type: string; innerType?: AnySchema };
    if (def.type === 'nullable') return true;
    if (def.innerType) s = def.innerType;
    else return false;
  }
}

function schemaAt(segs: string[], sections: SectionRoots = new Map()): AnySchema | undefined {
  const section = sections.get(segs[0] ?? '');
  let s: AnySchema = section ?? AnyExperimentConfig;
  for (const seg of section === undefined ? segs : segs.slice(1)) {
    const def = unwrap(s)._zod.def as { type: string; shape?: Record<string, AnySchema>; element?: AnySchema };
    if (def.type === 'object' && def.shape && seg in def.shape) s = def.shape[seg];
    else if (def.type === 'array' && def.element) s = def.element;
    else return undefined;
  }
  return s;
}

function objectKeysAt(segs: string[], sections: SectionRoots = new Map()): string[] {
  const s = schemaAt(segs, sections);
  if (!s) return [];
  const def = unwrap(s)._zod.def as { type: string; shape?: Record<string, AnySchema> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

let cachedPaths: string[] | undefined;
/** Every key path the schema accepts (sections and leaves), for "wrong section" suggestions. */
function allKeyPaths(): string[] {
  if (cachedPaths) return cachedPaths;
  const out: string[] = [];
  const visit = (segs: string[]) => {
    for (const k of objectKeysAt(segs)) {
      out.push([...segs, k].join('.'));
      visit([...segs, k]);
    }
  };
  visit([]);
  cachedPaths = out;
  return out;
}

// ---- value helpers ----

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

export function valueAt(root: unknown, segs: string[]): unknown {
  let v: unknown = root;
  for (const seg of segs) {
    if (Array.isArray(v)) v = v[Number(seg)];
    else if (isPlainObject(v)) v = v[seg];
    else return undefined;
  }
  return v;
}

/** "string 'hot'", "number 3", "list [..]" — short, and never the value of a secret-adjacent key. */
export function describeValue(value: unknown, keyPath: string): string {
  if (keyPath === 'model.api_key_env' && value !== null && value !== undefined) return `a ${kindOf(value)} (value not shown: it may be a secret)`;
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  let text = JSON.stringify(value) ?? String(value);
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  return `${kindOf(value)} ${text}`;
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'mapping';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
