import * as path from 'node:path';
import type { z } from 'zod';
import { SHARED_KEYS, type AnyExperimentConfig, type MethodSections } from '@assay/config';
import { errorMessage } from '@assay/contracts';
import { checkMethod, methodUsesModel, type AnyMethod } from '@assay/methods/core';
import { BUILTIN_METHODS } from './builtin';

/** Where users and tests name extra method modules: paths separated by the platform's path delimiter. */
export const METHOD_MODULES_ENV = 'ASSAY_METHOD_MODULES';

export class MethodCatalogError extends Error {
  override name = 'MethodCatalogError';
}

/**
 * The methods a process knows: the built-in ones plus those exported by the modules named in
 * ASSAY_METHOD_MODULES (each exports `method` or `methods`). Every service builds the same
 * catalog from the same environment, so a method added by a module runs through the planner,
 * the workers, the evaluator and the reporter like a built-in one.
 */
export class MethodCatalog implements MethodSections {
  private readonly byName = new Map<string, AnyMethod>();

  constructor(methods: readonly AnyMethod[]) {
    for (const method of methods) {
      checkMethod(method, 'method catalog');
      if (this.byName.has(method.name)) throw new MethodCatalogError(`method '${method.name}' is registered twice`);
      this.byName.set(method.name, method);
    }
  }

  /** The built-in methods and those of the modules listed in `env[ASSAY_METHOD_MODULES]`. */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): MethodCatalog {
    const list = (env[METHOD_MODULES_ENV] ?? '').split(path.delimiter).filter((p) => p.trim().length > 0);
    return new MethodCatalog([...BUILTIN_METHODS, ...list.flatMap(loadMethodModule)]);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Whether the method asks a model (its config needs `model`), rather than being fitted on the train split (a baseline: no `model`). */
  usesModel(method: string | AnyMethod): boolean {
    return methodUsesModel(typeof method === 'string' ? this.get(method) : method);
  }

  sectionOf(name: string): z.ZodType | null {
    return this.get(name).section;
  }

  /**
   * The chosen method's settings, parsed by its schema (null for a method without a section), after
   * checking that `method` is registered and that no other top-level key is a section. For configs
   * that arrive already parsed (a request in the log); files go through loadExperimentConfig.
   */
  settingsOf(config: AnyExperimentConfig): unknown {
    const method = this.get(config.method);
    const extra = Object.keys(config).filter((key) => !SHARED_KEYS.includes(key) && key !== method.name);
    if (extra.length > 0) throw new MethodCatalogError(`unknown top-level key(s) ${extra.map((k) => `'${k}'`).join(', ')} (the only section besides the shared ones is the chosen method's, '${method.name}')`);
    if (this.usesModel(method) && config.model === undefined) throw new MethodCatalogError(`model: method '${method.name}' asks a model, so the config needs a 'model' section`);
    if (!this.usesModel(method) && config.model !== undefined) throw new MethodCatalogError(`model: method '${method.name}' is fitted on the train split and asks no model, so the 'model' section must be removed`);
    if (method.section === null && config[method.name] !== undefined) throw new MethodCatalogError(`method '${method.name}' takes no settings, so the section '${method.name}' must be removed`);
    if (method.section === null) return null;
    const parsed = method.section.safeParse(config[method.name] ?? {});
    if (!parsed.success) throw new MethodCatalogError(`${method.name}: ${parsed.error.issues.map((i) => `${[method.name, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }

  /** The method named `name`, or an error listing the registered ones. */
  get(name: string): AnyMethod {
    const method = this.byName.get(name);
    if (method === undefined) throw new MethodCatalogError(`method: unknown method '${name}'; registered methods: ${this.names().join(', ')}`);
    return method;
  }
}

function loadMethodModule(file: string): AnyMethod[] {
  const resolved = path.resolve(file.trim());
  let mod: Record<string, unknown>;
  try {
    mod = require(resolved) as Record<string, unknown>;
  } catch (error) {
    throw new MethodCatalogError(`${METHOD_MODULES_ENV}: cannot load method module ${resolved}: ${errorMessage(error)}`);
  }
  const exported = mod.methods ?? (mod.method === undefined ? undefined : [mod.method]);
  if (!Array.isArray(exported) || exported.length === 0) {
    throw new MethodCatalogError(`${METHOD_MODULES_ENV}: module ${resolved} exports neither 'method' (one method) nor 'methods' (a non-empty list)`);
  }
  exported.forEach((m, i) => {
    const where = `${METHOD_MODULES_ENV}: ${resolved} method ${i + 1}`;
    checkMethod(m, where);
    // Its stage keys carry this version (no recorded source hash covers a module): said at start, not at the first run.
    if (m.codeVersion === undefined) throw new MethodCatalogError(`${where} ('${m.name}'): a method from a module must declare codeVersion (a positive integer, raised whenever its prompts or fit may change), which its stage keys carry`);
  });
  return exported as AnyMethod[];
}

let processCatalog: MethodCatalog | undefined;
/** This process's catalog, built from its environment once. */
export function methodCatalog(): MethodCatalog {
  return (processCatalog ??= MethodCatalog.fromEnvironment());
}
