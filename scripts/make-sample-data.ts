import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
// Relative imports (not @assay/*) so this file also runs when compiled on its own.
import { csvLine, datasetHash, ensureSplit, hashFile, mulberry32 } from '../libs/data/src';

/**
 * Deterministic sample dataset (profiles.csv, responses.csv, items.csv) with a real signal:
 * two latent traits drive some features and every answer, so a model that reads the profile
 * can beat the mean baseline. Seeded PRNG only (no Date, no Math.random): same args, same bytes.
 */
export interface SampleDataOptions {
  entities: number;
  groups: number;
  itemsPerGroup: number;
  features: number;
  seed: number;
  outDir: string;
  /** Ids with '/', '..', spaces, commas, quotes, braces and unicode, to test that ids stay data. */
  hostileIds?: boolean;
}

export interface SampleDataResult {
  files: { profiles: string; responses: string; items: string };
  entityIds: string[];
  items: number;
  observations: number;
  missing: number;
}

type Kind = 'binary' | 'ordinal' | 'continuous';
interface SampleItem {
  group: string;
  item: string;
  question: string;
  min: number;
  max: number;
  kind: Kind;
  w1: number;
  w2: number;
}

const NAMED_FEATURES = ['age', 'gender', 'region', 'education', 'income', 'political_left_right', 'trust_in_science', 'religiosity', 'household_size', 'urban'];
const REGIONS = ['north', 'south', 'east', 'west', 'centre'];
const HOSTILE_ID_FORMS = [
  (i: number) => `p/${i}`,
  (i: number) => `../p ${i}`,
  (i: number) => `p,"${i}"`,
  (i: number) => `ünï-${i} 日本`,
  (i: number) => ` p${i} `,
  (i: number) => `p{profile}${i}`,
  (i: number) => `p'${i}';--`,
];
/** Share of response cells left empty (missing observations). */
const MISSING_RATE = 0.03;

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

export async function makeSampleData(opts: SampleDataOptions): Promise<SampleDataResult> {
  positiveInt('entities', opts.entities);
  positiveInt('groups', opts.groups);
  positiveInt('itemsPerGroup', opts.itemsPerGroup);
  positiveInt('features', opts.features);
  const rand = mulberry32(opts.seed);
  const normal = (): number => {
    // Box-Muller; 1 - u keeps log() away from 0.
    const u = 1 - rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
  const hostile = opts.hostileIds === true;

  const entityIds = Array.from({ length: opts.entities }, (_, i) =>
    hostile ? HOSTILE_ID_FORMS[i % HOSTILE_ID_FORMS.length](i + 1) : `p${String(i + 1).padStart(4, '0')}`,
  );
  const featureNames = Array.from({ length: opts.features }, (_, k) => NAMED_FEATURES[k] ?? `feature_${String(k + 1).padStart(3, '0')}`);

  const items: SampleItem[] = [];
  for (let g = 0; g < opts.groups; g++) {
    const group = hostile ? `study ${g + 1}/"w${g + 1}", ü` : `study_${g + 1}`;
    for (let k = 0; k < opts.itemsPerGroup; k++) {
      const n = g * opts.itemsPerGroup + k;
      const item = hostile ? `q${k + 1}, {item} ../${k + 1}` : `q${k + 1}`;
      const [kind, min, max]: [Kind, number, number] = ([['binary', 0, 1], ['ordinal', 1, 5], ['continuous', 0, 100], ['ordinal', 1, 7]] as Array<[Kind, number, number]>)[n % 4];
      // Alternate which trait dominates, with a sign flip, so items are not all alike.
      const sign = n % 3 === 0 ? -1 : 1;
      const [w1, w2] = n % 2 === 0 ? [0.8 * sign, 0.3] : [0.2, 0.8 * sign];
      const question =
        kind === 'binary'
          ? `Did you take part in activity ${n + 1} last year? (0 = no, 1 = yes)`
          : kind === 'continuous'
            ? `On a scale from 0 to 100, how much do you trust institution ${n + 1}?`
            : `How much do you agree with statement ${n + 1}? (${min} = strongly disagree, ${max} = strongly agree)`;
      items.push({ group, item, question: hostile ? `${question} Literal braces: {question} {profile}.` : question, min, max, kind, w1, w2 });
    }
  }

  await mkdir(opts.outDir, { recursive: true });
  const files = {
    profiles: join(opts.outDir, 'profiles.csv'),
    responses: join(opts.outDir, 'responses.csv'),
    items: join(opts.outDir, 'items.csv'),
  };
  await writeLines(files.items, (function* () {
    yield csvLine(['group', 'item', 'question', 'min', 'max', 'kind']);
    for (const it of items) yield csvLine([it.group, it.item, it.question, it.min, it.max, it.kind]);
  })());

  // Latent traits per entity; drawn in entity order so the stream is reproducible.
  const traits = entityIds.map(() => [normal(), normal()] as const);
  await writeLines(files.profiles, (function* () {
    yield csvLine(['entity_id', ...featureNames]);
    for (let i = 0; i < entityIds.length; i++) {
      const [z1, z2] = traits[i];
      const cells: Array<string | number> = [entityIds[i]];
      for (let k = 0; k < featureNames.length; k++) cells.push(featureValue(featureNames[k], k, z1, z2, rand, normal, clamp));
      yield csvLine(cells);
    }
  })());

  let observations = 0;
  let missing = 0;
  await writeLines(files.responses, (function* () {
    yield csvLine(['entity_id', 'group', 'item', 'value']);
    for (let i = 0; i < entityIds.length; i++) {
      const [z1, z2] = traits[i];
      for (const it of items) {
        const y = it.w1 * z1 + it.w2 * z2 + 0.5 * normal();
        // Always draw, so whether a cell is missing does not shift the values that follow.
        const isMissing = rand() < MISSING_RATE;
        if (isMissing) {
          missing++;
          yield csvLine([entityIds[i], it.group, it.item, '']);
          continue;
        }
        observations++;
        yield csvLine([entityIds[i], it.group, it.item, answer(it, y, clamp)]);
      }
    }
  })());
  return { files, entityIds, items: items.length, observations, missing };
}

function featureValue(
  name: string,
  k: number,
  z1: number,
  z2: number,
  rand: () => number,
  normal: () => number,
  clamp: (v: number, lo: number, hi: number) => number,
): string | number {
  switch (name) {
    case 'age':
      return Math.round(clamp(47 + 14 * (0.6 * z1 + 0.8 * normal()), 18, 90));
    case 'gender':
      return rand() < 0.5 ? 'female' : 'male';
    case 'region':
      return REGIONS[Math.floor(rand() * REGIONS.length)];
    case 'education':
      return Math.round(clamp(3 + 1.1 * (0.7 * z2 + 0.7 * normal()), 1, 5));
    case 'income':
      return Math.round(clamp(42000 * Math.exp(0.35 * z2 + 0.3 * normal()), 5000, 400000));
    case 'political_left_right':
      return Math.round(clamp(5.5 + 2.2 * (0.8 * z1 + 0.6 * normal()), 0, 10));
    case 'trust_in_science':
      return Math.round(clamp(4 + 1.5 * (0.6 * z2 - 0.4 * z1 + 0.6 * normal()), 1, 7));
    case 'religiosity':
      return Math.round(clamp(3 + 1.2 * (0.7 * z1 + 0.7 * normal()), 1, 5));
    case 'household_size':
      return 1 + Math.floor(rand() * 5);
    case 'urban':
      return rand() < 0.6 ? 'yes' : 'no';
    default: {
      // Generic features: one in three tracks z1, one in three z2, the rest are noise.
      const load = k % 3 === 0 ? z1 : k % 3 === 1 ? z2 : 0;
      return (0.7 * load + 0.7 * normal()).toFixed(2);
    }
  }
}

function answer(it: SampleItem, y: number, clamp: (v: number, lo: number, hi: number) => number): number {
  switch (it.kind) {
    case 'binary':
      return y > 0 ? 1 : 0;
    case 'ordinal': {
      const mid = (it.min + it.max) / 2;
      return Math.round(clamp(mid + y * ((it.max - it.min) / 3), it.min, it.max));
    }
    case 'continuous':
      return Number(clamp(50 + 20 * y, it.min, it.max).toFixed(1));
  }
}

/** Streams lines in ~64 KB chunks, honouring backpressure, so 589 x 250 profiles stay cheap. */
async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= 65536) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await finished(out);
}

function intArg(values: Record<string, string | boolean | undefined>, name: string): number {
  const raw = values[name];
  if (typeof raw !== 'string') throw new Error(`--${name} is required`);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new Error(`--${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      entities: { type: 'string' },
      groups: { type: 'string' },
      'items-per-group': { type: 'string' },
      features: { type: 'string' },
      seed: { type: 'string' },
      'hostile-ids': { type: 'boolean' },
      split: { type: 'string' },
      'split-seed': { type: 'string' },
      'test-fraction': { type: 'string' },
    },
    strict: true,
  });
  if (!values.out) throw new Error('--out is required');
  const result = await makeSampleData({
    outDir: values.out,
    entities: intArg(values, 'entities'),
    groups: intArg(values, 'groups'),
    itemsPerGroup: intArg(values, 'items-per-group'),
    features: intArg(values, 'features'),
    seed: intArg(values, 'seed'),
    hostileIds: values['hostile-ids'] === true,
  });
  console.log(
    `wrote ${result.files.profiles}, ${result.files.responses}, ${result.files.items}: ` +
      `${result.entityIds.length} entities, ${result.items} items, ${result.observations} observations, ${result.missing} missing`,
  );
  if (values.split) {
    const testFraction = Number(values['test-fraction']);
    if (!values['test-fraction'] || !Number.isFinite(testFraction)) throw new Error('--split needs --test-fraction (a number in (0, 1))');
    const dataHash = datasetHash(await hashFile(result.files.profiles), await hashFile(result.files.responses));
    const { split, created, hash } = await ensureSplit(values.split, result.entityIds, { seed: intArg(values, 'split-seed'), testFraction, dataHash });
    console.log(`${created ? 'created' : 'kept existing'} ${values.split}: ${split.train.length} train, ${split.test.length} test, sha256 ${hash}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
