import type { AnyExperimentConfig } from './schema';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Canonical JSON for hashing: keys sorted (by UTF-16 code unit, as Array#sort does), no
 * whitespace. Object properties holding undefined are omitted (as absent keys); anything else
 * JSON can't represent faithfully (undefined in a list or at the top, NaN, Infinity, functions,
 * class instances) throws instead of being coerced, since a silent coercion would let two
 * different values hash the same.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(toJson(value, '$'));
}

/** The resolved config as plain JSON with keys sorted: what gets hashed, stored and frozen to disk. */
export function toDict(config: AnyExperimentConfig): JsonObject {
  return toJson(config, 'config') as JsonObject;
}

function toJson(value: unknown, at: string): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`canonicalJson: non-finite number ${value} at ${at}`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => toJson(v, `${at}[${i}]`));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      // An absent optional (e.g. purpose) is the same as a missing key, as in JSON.
      if (v === undefined) continue;
      Object.defineProperty(out, key, { value: toJson(v, `${at}.${key}`), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  throw new Error(`canonicalJson: cannot represent ${typeof value === 'object' ? 'a non-plain object' : typeof value} at ${at}`);
}
