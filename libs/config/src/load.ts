import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { closest } from 'fastest-levenshtein';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit as visitYaml, type Document, type Node as YamlNode } from 'yaml';
import { ConfigError, where } from './errors';
import { isPlainObject, Location, parseWithLocations, type MethodSections } from './parse';
import type { AnyExperimentConfig } from './schema';
import { validateConfig } from './validate';

export interface LoadedConfig {
  config: AnyExperimentConfig;
  warnings: string[];
  /** Absolute paths of the files merged, in merge order (the loaded file last). */
  sources: string[];
}

interface Position {
  line: number;
  column: number;
}

/** One YAML file's own keys, with `_base`/`_presets` removed and its paths made absolute. */
interface Layer {
  file: string;
  value: Record<string, unknown>;
  positions: Map<string, Position>;
}

interface LoadContext {
  presetsDir: () => string;
  warnings: string[];
}

/**
 * Loads a YAML experiment config: resolves `_base` (chained, deepest first), then `_presets` in
 * order, then the file's own keys; mappings merge deeply, lists and scalars replace. Paths in
 * `data.*`, `model.chat_template` and `profile.codebook` resolve against the folder of the file that declares them.
 */
export function loadExperimentConfig(file: string, opts: { presetsDir?: string; methods?: MethodSections } = {}): LoadedConfig {
  const top = path.resolve(file);
  if (!existsSync(top)) {
    throw new ConfigError({ path: '', file: top, message: `config file not found: ${where(top)}` });
  }
  let presetsDir: string | undefined = opts.presetsDir === undefined ? undefined : path.resolve(opts.presetsDir);
  const ctx: LoadContext = {
    presetsDir: () => (presetsDir ??= defaultPresetsDir(top)),
    warnings: [],
  };
  const layers = resolveLayers(top, [], ctx);
  const merged = layers.reduce<Record<string, unknown>>((acc, layer) => deepMerge(acc, layer.value) as Record<string, unknown>, {});
  const config = parseWithLocations(merged, top, (keyPath) => locate(layers, keyPath, top), opts.methods);
  return { config, warnings: [...ctx.warnings, ...validateConfig(config)], sources: layers.map((l) => l.file) };
}

function resolveLayers(file: string, chain: string[], ctx: LoadContext, via: '_base' | '_presets' = '_base'): Layer[] {
  if (chain.includes(file)) {
    const cycle = [...chain.slice(chain.indexOf(file)), file].map((f) => where(f)).join(' -> ');
    throw new ConfigError({ path: via, file: chain[chain.length - 1], message: `cycle in _base/_presets: ${cycle}` });
  }
  const { value, positions } = readYamlMapping(file, ctx);
  const dir = path.dirname(file);
  const here = (key: string) => positions.get(key);
  const layers: Layer[] = [];

  const base = value._base;
  delete value._base;
  if (base !== undefined) {
    const pos = here('_base');
    if (typeof base !== 'string' || base.length === 0) {
      throw new ConfigError({ path: '_base', file, ...pos, message: `invalid value for '_base' in ${where(file, pos?.line, pos?.column)}: expected a file path (string), found ${JSON.stringify(base)}` });
    }
    const baseFile = path.resolve(dir, base);
    if (!existsSync(baseFile) || !statSync(baseFile).isFile()) {
      throw new ConfigError({ path: '_base', file, ...pos, message: `_base file not found: ${baseFile} (declared as '${base}' in ${where(file, pos?.line, pos?.column)})` });
    }
    layers.push(...resolveLayers(baseFile, [...chain, file], ctx, '_base'));
  }

  const presets = value._presets;
  delete value._presets;
  if (presets !== undefined) {
    const pos = here('_presets');
    if (!Array.isArray(presets) || presets.some((p) => typeof p !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(p) || p.startsWith('.'))) {
      throw new ConfigError({ path: '_presets', file, ...pos, message: `invalid value for '_presets' in ${where(file, pos?.line, pos?.column)}: expected a list of preset names (letters, digits, _ . -), found ${JSON.stringify(presets)}` });
    }
    const dupes = presets.filter((p, i) => presets.indexOf(p) !== i);
    if (dupes.length > 0) {
      throw new ConfigError({ path: '_presets', file, ...pos, message: `'_presets' in ${where(file, pos?.line, pos?.column)} lists ${dupes.map((d) => `'${d}'`).join(', ')} more than once` });
    }
    for (const name of presets as string[]) {
      const presetFile = path.join(ctx.presetsDir(), `${name}.yaml`);
      if (!existsSync(presetFile)) {
        const available = listPresets(ctx.presetsDir());
        const hint = available.length > 0 ? ` (did you mean '${closest(name, available)}'?)` : '';
        throw new ConfigError({
          path: '_presets',
          file,
          ...pos,
          message: `unknown preset '${name}' in ${where(file, pos?.line, pos?.column)}${hint}; available presets in ${where(ctx.presetsDir())}: ${available.length > 0 ? available.join(', ') : '(none)'}`,
        });
      }
      layers.push(...resolveLayers(presetFile, [...chain, file], ctx, '_presets'));
    }
  }

  resolveLayerPaths(value, dir);
  layers.push({ file, value, positions });
  return layers;
}

/** Reads one YAML file whose top level must be a mapping; records the line of every key. */
function readYamlMapping(file: string, ctx: LoadContext): { value: Record<string, unknown>; positions: Map<string, Position> } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { path: '', file, line: pos?.line, column: pos?.col, message: `YAML error in ${where(file, pos?.line, pos?.col)}: ${e.message.trimEnd()}` };
      }),
    );
  }
  for (const w of doc.warnings) {
    const pos = w.linePos?.[0];
    ctx.warnings.push(`YAML warning in ${where(file, pos?.line, pos?.col)}: ${w.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents)) {
    const found = doc.contents === null ? 'an empty document' : isSeq(doc.contents) ? 'a list' : 'a scalar';
    throw new ConfigError({ path: '', file, message: `${where(file)}: expected a mapping of config keys at the top level, found ${found}` });
  }
  const positions = new Map<string, Position>();
  const visit = (node: unknown, prefix: string[]) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const keyPath = [...prefix, key];
        const range = isScalar(keyNode) ? keyNode.range : undefined;
        if (range) positions.set(keyPath.join('.'), toPosition(lineCounter.linePos(range[0])));
        visit(pair.value, keyPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const keyPath = [...prefix, String(i)];
        const range = (item as { range?: [number, number, number] } | null)?.range;
        if (range) positions.set(keyPath.join('.'), toPosition(lineCounter.linePos(range[0])));
        visit(item, keyPath);
      });
    }
  };
  visit(doc.contents, []);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (error) {
    // yaml refuses an alias bomb with a bare ReferenceError: name the alias that expands too far.
    if (!(error instanceof ReferenceError)) throw error;
    const alias = largestAlias(doc);
    const pos = alias?.range ? lineCounter.linePos(alias.range[0]) : undefined;
    const name = alias ? ` (alias *${alias.source} expands to ${alias.size > MAX_EXPANSION ? `more than ${MAX_EXPANSION}` : alias.size} nodes)` : '';
    throw new ConfigError({
      path: '',
      file,
      line: pos?.line,
      column: pos?.col,
      message: `YAML error in ${where(file, pos?.line, pos?.col)}: ${error.message}${name}; a config needs at most ${MAX_ALIAS_COUNT} alias expansions`,
    });
  }
  if (!isPlainObject(value)) {
    throw new ConfigError({ path: '', file, message: `${where(file)}: expected a mapping of config keys at the top level` });
  }
  return { value, positions };
}

/** yaml's guard against alias bombs (exponential expansion of nested aliases): a config needs few. */
const MAX_ALIAS_COUNT = 100;
/** Expansion sizes are counted up to this, so measuring a bomb stays cheap. */
const MAX_EXPANSION = 1_000_000;

/**
 * The alias whose expansion is largest (nodes it stands for, nested aliases expanded), first in
 * document order on a tie: in an alias bomb it is the one that multiplies the rest.
 */
function largestAlias(doc: Document): { source: string; range?: [number, number, number]; size: number } | null {
  // An alias stands for the last node with its anchor before it, so targets are fixed while walking.
  const latest = new Map<string, YamlNode>();
  const aliases: Array<{ source: string; range?: [number, number, number]; target?: YamlNode }> = [];
  visitYaml(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) aliases.push({ source: node.source, range: node.range ?? undefined, target: latest.get(node.source) });
      else if (node.anchor) latest.set(node.anchor, node);
    },
  });
  const targetOf = new Map(aliases.map((a) => [a.range?.[0], a.target]));
  const memo = new Map<YamlNode, number>();
  const sizeOf = (node: unknown, depth: number): number => {
    if (depth > 64) return MAX_EXPANSION;
    if (isAlias(node)) {
      const target = targetOf.get(node.range?.[0]);
      if (!target) return 1;
      const known = memo.get(target) ?? sizeOf(target, depth + 1);
      memo.set(target, known);
      return known;
    }
    let size = 1;
    if (isMap(node)) for (const pair of node.items) size += sizeOf(pair.key, depth) + sizeOf(pair.value, depth);
    else if (isSeq(node)) for (const item of node.items) size += sizeOf(item, depth);
    return Math.min(size, MAX_EXPANSION);
  };
  let best: { source: string; range?: [number, number, number]; size: number } | null = null;
  for (const a of aliases) {
    const size = a.target ? sizeOf(a.target, 1) : 1;
    if (best === null || size > best.size) best = { source: a.source, range: a.range, size };
  }
  return best;
}

function toPosition(p: { line: number; col: number }): Position {
  return { line: p.line, column: p.col };
}

/**
 * Paths are relative to the file that declares them, so they are made absolute before merging
 * (after merging nobody knows which file a value came from). Non-strings and empty strings are
 * left for the schema to reject with a proper message.
 */
function resolveLayerPaths(value: Record<string, unknown>, dir: string): void {
  const data = value.data;
  if (isPlainObject(data)) {
    for (const [k, v] of Object.entries(data)) {
      if (typeof v === 'string' && v.length > 0) data[k] = path.resolve(dir, v);
    }
  }
  const model = value.model;
  if (isPlainObject(model)) {
    const t = model.chat_template;
    if (typeof t === 'string' && t.length > 0 && !t.startsWith('builtin:')) model.chat_template = path.resolve(dir, t);
  }
  const profile = value.profile;
  if (isPlainObject(profile) && typeof profile.codebook === 'string' && profile.codebook.length > 0) profile.codebook = path.resolve(dir, profile.codebook);
}

/** Mappings merge key by key; anything else (lists, scalars, null) in the overlay replaces. */
export function deepMerge(base: unknown, overlay: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(overlay)) return overlay;
  // fromEntries defines own properties, so even a key named __proto__ stays plain data.
  const merged = new Map<string, unknown>(Object.entries(base));
  for (const [k, v] of Object.entries(overlay)) merged.set(k, merged.has(k) ? deepMerge(merged.get(k), v) : v);
  return Object.fromEntries(merged);
}

/** The last layer that wrote a key is the one whose value survived the merge. */
function locate(layers: Layer[], keyPath: string, fallback: string): Location {
  for (let i = layers.length - 1; i >= 0; i--) {
    const pos = layers[i].positions.get(keyPath);
    if (pos) return { file: layers[i].file, line: pos.line, column: pos.column };
  }
  return { file: fallback };
}

function listPresets(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/**
 * `presets/` of the nearest ancestor folder named `configs`, else `<repo root>/configs/presets`
 * where the repo root is the nearest ancestor of this module holding package.json.
 */
export function defaultPresetsDir(configFile: string): string {
  for (let dir = path.dirname(configFile); ; dir = path.dirname(dir)) {
    if (path.basename(dir) === 'configs') return path.join(dir, 'presets');
    if (path.dirname(dir) === dir) break;
  }
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'configs', 'presets');
    if (path.dirname(dir) === dir) {
      throw new Error(`cannot find the presets folder for ${configFile}: no ancestor 'configs' folder and no package.json above ${__dirname}; pass opts.presetsDir`);
    }
  }
}
