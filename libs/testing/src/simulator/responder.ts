/**
 * What the simulated model "says". The default answers the question's numeric range so an
 * end-to-end run produces parseable, in-range predictions that differ by entity and item.
 */

export interface ResponderParams {
  model: string;
  /** The effective limit: the request's max_tokens or, when absent, what fits in max_model_len. */
  maxTokens: number;
  temperature: number;
  seed?: number;
}

export type Responder = (prompt: string, params: ResponderParams) => string;

const NUM = String.raw`(-?\d+(?:\.\d+)?)`;
const RANGE = new RegExp(String.raw`\b(?:between\s+${NUM}\s+and\s+${NUM}|from\s+${NUM}\s+to\s+${NUM})`, 'gi');

export interface NumericRange {
  low: number;
  high: number;
  /** Decimal places to answer with: 0 when both ends are integers. */
  decimals: number;
  /** Where the range's phrase starts in the prompt. */
  index: number;
}

/** The LAST "between A and B" / "from A to B" in the text: the question comes after the profile. */
export function findLastRange(text: string): NumericRange | undefined {
  let last: RegExpExecArray | undefined;
  RANGE.lastIndex = 0;
  for (let m = RANGE.exec(text); m; m = RANGE.exec(text)) last = m;
  if (!last) return undefined;
  const a = last[1] ?? last[3];
  const b = last[2] ?? last[4];
  const decimals = Math.max(decimalPlaces(a), decimalPlaces(b));
  const [x, y] = [Number(a), Number(b)];
  return { low: Math.min(x, y), high: Math.max(x, y), decimals, index: last.index };
}

function decimalPlaces(numeral: string): number {
  const dot = numeral.indexOf('.');
  return dot < 0 ? 0 : numeral.length - dot - 1;
}

/** A stable uniform number in [0, 1) from a string. */
function hashUnit(text: string, salt: number): number {
  let h = 0x811c9dc5 ^ salt;
  for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 0x1_0000_0000;
}

/** Mean digit (0..9) of the text before the question, scaled to [0, 1]; 0.5 if it has none. */
function digitScore(text: string, end: number): number {
  let sum = 0;
  let count = 0;
  for (let k = 0; k < end; k++) {
    const code = text.charCodeAt(k);
    if (code >= 48 && code <= 57) {
      sum += code - 48;
      count++;
    }
  }
  return count === 0 ? 0.5 : sum / (9 * count);
}

/**
 * Answers with a number inside the prompt's last range: half a stable hash of the whole prompt
 * (varies by item), half the mean digit of the profile before it (so an entity with higher
 * feature values tends to answer higher, like a model reading the profile would). Integers for an
 * integer range. "0" when the prompt names no range.
 */
export const deterministicResponder: Responder = (prompt, params) => {
  const range = findLastRange(prompt);
  if (!range) return '0';
  // Sampling with temperature > 0 differs by seed in a real model; greedy decoding does not.
  const salt = params.temperature > 0 ? (params.seed ?? 0) : 0;
  const u = Math.min(0.999_999, 0.5 * hashUnit(prompt, salt) + 0.5 * digitScore(prompt, range.index));
  const { low, high, decimals } = range;
  if (decimals === 0) return String(Math.min(high, low + Math.floor(u * (high - low + 1))));
  const value = low + u * (high - low);
  return value.toFixed(decimals);
};
