import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { errorMessage } from '@assay/contracts';

/**
 * Turning a model's raw text into a number.
 *
 * The rules, applied in this order (the first that yields an answer or a failure decides):
 *
 *  0. Empty (whitespace only) -> failure "empty output".
 *     `<think>...</think>` reasoning blocks are removed first: reasoning is not the answer and
 *     its numbers would make every answer ambiguous. An unclosed block is a failure (truncated).
 *     A Markdown code fence around the whole output is unwrapped.
 *  1. JSON: text starting with `{`, `[` or `"` that is valid JSON is interpreted as JSON and
 *     nothing else: a number; a string (parsed again by these rules); a boolean (binary only);
 *     an array of one element; an object's first present field among
 *     answer, value, prediction, rating, score, label (case-insensitive, in that priority).
 *     Invalid JSON (e.g. `{answer: 4}`) falls through to the text rules.
 *  2. Labelled answers: "Answer: 4", "final answer is 4", "rating = 4", "prediction 4",
 *     `"answer": 4` (and "Answer: yes" for binary items). If every labelled answer agrees, that is
 *     the value; if they disagree -> ambiguous. ("score" is not a label: models report
 *     "confidence score: 0.9" next to their answer.)
 *  3. Binary items only: a leading yes/no/true/false ("Yes, because ...") is the answer.
 *  4. Every number in the text, except scale restatements, which are never answers:
 *     a denominator ("out of 5", "4 of 5", "4/5"), a stated scale ("on a scale of 1 to 5",
 *     "scale from 1-5", "1-5 scale", "5-point scale"). One distinct value -> the answer
 *     ("4. Final: 4" is fine); several distinct values -> ambiguous, never a guess.
 *     A number glued to letters ("Q3", "gpt4") is part of a word, not a number; a hyphen between
 *     two numbers ("3-4") is a range dash, not a minus sign.
 *  5. Binary items only: yes/no/true/false anywhere; both polarities -> ambiguous.
 *  6. Otherwise -> "no number in output".
 *
 * Values outside the item's [min, max] are returned unchanged: the caller marks them outliers.
 * Binary items (every item under `labels.mode: binary`) are the exception: their answer is a
 * label, so a value other than 0 or 1 (e.g. 0.7, a probability) is a failure naming it, never
 * rounded to a label the model did not give.
 */

export type ParseResult = { ok: true; value: number } | { ok: false; reason: string };

const ANSWER_KEYS = ['answer', 'value', 'prediction', 'rating', 'score', 'label'] as const;

// A number not glued to a preceding letter/digit/dot; the sign is part of it only when it is not a range dash.
const NUM = String.raw`(?:[-+](?=\.?\d))?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?`;
const NUMBER_RE = new RegExp(String.raw`(?<![\p{L}\p{N}_.])${NUM}`, 'gu');
const DASH = String.raw`(?:to|-|–|—)`;
const SCALE_RES = [
  new RegExp(String.raw`\b(?:scale|range)\s+(?:of\s+|from\s+)?${NUM}\s*${DASH}\s*${NUM}`, 'giu'),
  new RegExp(String.raw`${NUM}\s*${DASH}\s*${NUM}[\s-]*(?:point\s+)?scale\b`, 'giu'),
  new RegExp(String.raw`${NUM}[\s-]*point\s+scale\b`, 'giu'),
  new RegExp(String.raw`(?:\bout\s+of|(?<=\d\s*)\bof|(?<=\d\s*)/)\s*${NUM}`, 'giu'),
];
const LABEL_RE = new RegExp(
  String.raw`\b(?:final\s+answer|answer|rating|prediction)\b["']?\s*(?:is\b|:|=)?\s*["']?\s*(${NUM}|yes\b|no\b|true\b|false\b)`,
  'giu',
);
const WORD_RE = /\b(yes|no|true|false)\b/giu;
const LEADING_WORD_RE = /^[^\p{L}\p{N}]*(yes|no|true|false)\b/iu;

export function parseAnswer(raw: string, item: ItemDef): ParseResult {
  const result = parseRaw(raw, item);
  if (result.ok && item.kind === 'binary' && result.value !== 0 && result.value !== 1) {
    return fail(`binary item: answer ${String(result.value)} is neither 0 nor 1 (a binary answer is never rounded)`);
  }
  return result;
}

function parseRaw(raw: string, item: ItemDef): ParseResult {
  if (raw.trim() === '') return fail('empty output');
  const withoutThinking = raw.replace(/<think>[\s\S]*?<\/think>/giu, ' ');
  if (/<think>/iu.test(withoutThinking)) return fail('reasoning block <think> not closed (output truncated?)');
  let text = withoutThinking.trim();
  if (text === '') return fail('empty output after removing the reasoning block');
  const fenced = /^```[\w-]*\s*([\s\S]*?)\s*```$/u.exec(text);
  if (fenced) text = fenced[1].trim();
  return parseText(text, item, 0);
}

function parseText(text: string, item: ItemDef, depth: number): ParseResult {
  if (text === '') return fail('empty output');
  if (/^[[{"]/u.test(text)) {
    const json = tryParseJson(text);
    if (json.ok) return interpretJson(json.value, item, depth);
    const fromText = parseTextRules(text, item);
    // The JSON error explains a failure on JSON-looking text; on success it is irrelevant.
    return fromText.ok ? fromText : fail(`${fromText.reason} (and not valid JSON: ${json.error})`);
  }
  return parseTextRules(text, item);
}

function parseTextRules(text: string, item: ItemDef): ParseResult {
  const labelled = labelledAnswers(text, item);
  if (labelled.length > 0) return single(labelled, 'labelled answers');
  if (item.kind === 'binary') {
    const lead = LEADING_WORD_RE.exec(text);
    if (lead) return ok(wordValue(lead[1]));
  }
  const numbers = answerNumbers(text);
  if (numbers.length > 0) return single(numbers, 'numbers');
  if (item.kind === 'binary') {
    const words = [...text.matchAll(WORD_RE)].map((m) => wordValue(m[1]));
    if (words.length > 0) {
      return distinct(words).length === 1 ? ok(words[0]) : fail('both yes and no found: ambiguous');
    }
  }
  return fail('no number in output');
}

/**
 * JSON.parse is the only way to test well-formedness; a failure here is expected input, not a
 * bug: it routes the text to the plain-text rules, and its message ends up in their failure reason.
 */
function tryParseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, error: errorMessage(e) };
  }
}

function interpretJson(value: unknown, item: ItemDef, depth: number): ParseResult {
  if (depth > 3) return fail('JSON nested too deeply');
  if (typeof value === 'number') return finite(value);
  if (typeof value === 'string') return parseText(value.trim(), item, depth + 1);
  if (typeof value === 'boolean') {
    return item.kind === 'binary' ? ok(value ? 1 : 0) : fail(`boolean answer (${String(value)}) but the item is ${item.kind}`);
  }
  if (value === null) return fail('JSON answer is null');
  if (Array.isArray(value)) {
    return value.length === 1
      ? interpretJson(value[0], item, depth + 1)
      : fail(`JSON array of ${value.length} elements: ambiguous`);
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (const wanted of ANSWER_KEYS) {
    const key = keys.find((k) => k.toLowerCase() === wanted);
    if (key !== undefined) return interpretJson(record[key], item, depth + 1);
  }
  return fail(`JSON object has no answer field (keys: ${[...keys].sort().join(', ') || 'none'})`);
}

/** Yes/no labels count only for binary items ("Answer: yes" says nothing about a 1-5 rating). */
function labelledAnswers(text: string, item: ItemDef): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(LABEL_RE)) {
    const token = m[1].toLowerCase();
    if (!/^[a-z]/u.test(token)) out.push(Number(token));
    else if (item.kind === 'binary') out.push(wordValue(token));
  }
  return out;
}

/** Numbers in order of appearance, minus those inside scale restatements. */
function answerNumbers(text: string): number[] {
  const excluded: Array<[number, number]> = [];
  for (const re of SCALE_RES) {
    for (const m of text.matchAll(re)) excluded.push([m.index, m.index + m[0].length]);
  }
  const out: number[] = [];
  for (const m of text.matchAll(NUMBER_RE)) {
    const start = m.index;
    if (excluded.some(([s, e]) => start >= s && start < e)) continue;
    out.push(Number(m[0]));
  }
  return out;
}

function single(values: number[], what: string): ParseResult {
  const d = distinct(values);
  if (d.length === 1) return finite(d[0]);
  const shown = d.slice(0, 5).map(String).join(', ') + (d.length > 5 ? ', ...' : '');
  return fail(`${d.length} different ${what} (${shown}): ambiguous`);
}

function distinct(values: number[]): number[] {
  const out: number[] = [];
  for (const v of values) if (!out.includes(v)) out.push(v);
  return out;
}

function wordValue(word: string): number {
  const w = word.toLowerCase();
  return w === 'yes' || w === 'true' ? 1 : 0;
}

function finite(value: number): ParseResult {
  return Number.isFinite(value) ? ok(value) : fail(`number ${String(value)} is not finite`);
}

function ok(value: number): ParseResult {
  return { ok: true, value };
}

function fail(reason: string): ParseResult {
  return { ok: false, reason };
}

/**
 * One Sample + its raw output -> one Prediction. A parse failure keeps its raw text in
 * metadata.raw: what the model said is never dropped, so a failure can be read and the parser fixed.
 */
export function toPrediction(args: {
  sample: Sample;
  item: ItemDef;
  method: string;
  raw: string | null;
  inferenceError?: string;
}): Prediction {
  const { sample, item, method, raw, inferenceError } = args;
  if (sample.group !== item.group || sample.item !== item.item) {
    throw new Error(`toPrediction: sample ${sample.group}/${sample.item} given item ${item.group}/${item.item}`);
  }
  const base = { entityId: sample.entityId, group: sample.group, item: sample.item, method };
  if (raw === null) {
    if (inferenceError === undefined || inferenceError === '') {
      throw new Error(`toPrediction: raw output is null but no inferenceError for ${JSON.stringify(base)}`);
    }
    return { ...base, predicted: null, parseStatus: 'inference_failure', parseError: inferenceError, outlier: false, metadata: {} };
  }
  if (inferenceError !== undefined) {
    throw new Error(`toPrediction: both a raw output and an inferenceError for ${JSON.stringify(base)}`);
  }
  const parsed = parseAnswer(raw, item);
  if (!parsed.ok) {
    return { ...base, predicted: null, parseStatus: 'parse_failure', parseError: parsed.reason, outlier: false, metadata: { raw } };
  }
  const outlier = parsed.value < item.min || parsed.value > item.max;
  return { ...base, predicted: parsed.value, parseStatus: 'ok', outlier, metadata: {} };
}
