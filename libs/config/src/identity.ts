import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalJson, JsonObject, toDict } from './canonical';
import { DATA_KEYS } from './parse';
import type { AnyExperimentConfig } from './schema';
import { errorMessage } from '@assay/contracts';

export const IDENTITY_ALGORITHM = 'assay-identity/v1' as const;

export interface IdentityInput {
  config: AnyExperimentConfig;
  /** Content hash of each data file, keyed exactly by the `data` keys: profiles, responses, items, split. */
  dataHashes: Record<string, string>;
  /** From resolveCodeVersion: short commit, `-dirty` when tracked files have changes. */
  codeVersion: string;
}

export interface Identity {
  /** `<first 8 hex of configHash>_<codeVersion>`: the experiment's folder name and registry key. */
  identity: string;
  /** Full sha256 (hex) of the canonical identity payload. */
  configHash: string;
  algorithm: typeof IDENTITY_ALGORITHM;
}

/**
 * The part of the resolved config that decides WHAT is computed. Removed are the values that only
 * say WHERE things are: the data paths (their content hashes stand in for them), output_root,
 * model.base_url and model.api_key_env. A chat template given as a file path, and the profile
 * codebook, are replaced by the sha256 of their content for the same reason. So moving the checkout,
 * the data folder or the server keeps the identity, and so does serving the model from a list of
 * replicas instead of one server (pre-flight checks that every replica serves the same model with
 * the same max_model_len, and which replica answered a call is recorded per call, not folded into
 * the identity); any other resolved value, any data file's content, or the code version
 * changes it. YAML key order, comments and `_base`/`_presets` are gone once resolved, so configs
 * that resolve to the same values share an identity.
 */
export function identityView(config: AnyExperimentConfig): JsonObject {
  const dict = toDict(config);
  delete dict.data;
  delete dict.output_root;
  // A method without a model (a baseline) has no model section, so nothing of one to hash.
  if (config.model !== undefined) {
    const model = { ...(dict.model as JsonObject) };
    delete model.base_url;
    delete model.api_key_env;
    const template = config.model.chat_template;
    if (!template.startsWith('builtin:')) model.chat_template = `sha256:${sha256(readConfigFile('model.chat_template', template))}`;
    dict.model = model;
  }
  // Only when set, so a config without a profile section keeps the identity it always had.
  const codebook = config.profile?.codebook;
  if (codebook !== undefined) dict.profile = { ...(dict.profile as JsonObject), codebook: `sha256:${sha256(readConfigFile('profile.codebook', codebook))}` };
  return dict;
}

export function computeIdentity(input: IdentityInput): Identity {
  const { config, dataHashes, codeVersion } = input;
  checkDataHashes(dataHashes);
  if (!/^[A-Za-z0-9._-]+$/.test(codeVersion)) {
    // It becomes part of a folder name, so anything path-like is refused.
    throw new Error(`computeIdentity: codeVersion must be non-empty and contain only letters, digits, '.', '_' or '-', got ${JSON.stringify(codeVersion)}`);
  }
  const configHash = sha256(canonicalJson({ algorithm: IDENTITY_ALGORITHM, config: identityView(config), dataHashes }));
  return { identity: `${configHash.slice(0, 8)}_${codeVersion}`, configHash, algorithm: IDENTITY_ALGORITHM };
}

/** Exactly one hash per data key: a missing one would silently drop a file from the identity. */
function checkDataHashes(dataHashes: Record<string, string>): void {
  const expected: readonly string[] = DATA_KEYS;
  const missing = expected.filter((k) => !(k in dataHashes));
  const extra = Object.keys(dataHashes).filter((k) => !expected.includes(k));
  const empty = Object.entries(dataHashes).filter(([, v]) => typeof v !== 'string' || v.length === 0).map(([k]) => k);
  if (missing.length > 0 || extra.length > 0 || empty.length > 0) {
    const parts = [
      missing.length > 0 ? `missing ${missing.join(', ')}` : '',
      extra.length > 0 ? `unexpected ${extra.join(', ')}` : '',
      empty.length > 0 ? `empty ${empty.join(', ')}` : '',
    ].filter(Boolean);
    throw new Error(`computeIdentity: dataHashes must have a non-empty hash for exactly ${expected.join(', ')} (${parts.join('; ')})`);
  }
}

function readConfigFile(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`computeIdentity: cannot read ${key} ${file} to hash its content: ${errorMessage(err)}`, { cause: err });
  }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
