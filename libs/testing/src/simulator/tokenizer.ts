/**
 * A deterministic, cheap stand-in for a BPE tokenizer. Token boundaries follow the shape of
 * GPT-style pre-tokenization (one leading space attached to the next word, digits split one by one
 * as Qwen/Llama do, punctuation alone, whitespace runs together) and chat special tokens like
 * `<|im_start|>` are one token, so counts land in the same ballpark as a real tokenizer.
 *
 * It is a single linear scan over char codes with no substring allocation: the benchmark
 * tokenizes ~42k prompts of ~12 kB each, and a regex + Map lookup per token would dominate.
 */

/** Ids land in [FIRST_ID, FIRST_ID + VOCAB_SIZE), a vocabulary the size of Qwen2's. */
const VOCAB_SIZE = 151_000;
const FIRST_ID = 100;
/** A special token `<|...|>` longer than this is treated as ordinary punctuation. */
const MAX_SPECIAL_LEN = 64;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const enum CharClass {
  Letter,
  Digit,
  Space,
  Punct,
}

function classOf(code: number): CharClass {
  if ((code >= 97 && code <= 122) || (code >= 65 && code <= 90)) return CharClass.Letter;
  if (code >= 48 && code <= 57) return CharClass.Digit;
  if (code === 32 || (code >= 9 && code <= 13)) return CharClass.Space;
  // Any non-ASCII code unit counts as a letter: a word in another script stays one run.
  if (code >= 128) return CharClass.Letter;
  return CharClass.Punct;
}

export interface Tokenization {
  ids: number[];
  /** End offset (exclusive, in UTF-16 units) of each token; only when asked for. */
  ends?: number[];
}

/** Token id of text[start, end): FNV-1a over UTF-16 units, folded into the vocabulary. */
function tokenId(text: string, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let k = start; k < end; k++) h = Math.imul(h ^ text.charCodeAt(k), FNV_PRIME);
  return FIRST_ID + ((h >>> 0) % VOCAB_SIZE);
}

/** End of a `<|name|>` special token starting at `start`, or -1 if there is none. */
function specialTokenEnd(text: string, start: number): number {
  if (text.charCodeAt(start + 1) !== 124 /* | */) return -1;
  const limit = Math.min(text.length - 1, start + MAX_SPECIAL_LEN);
  for (let k = start + 2; k < limit; k++) {
    const code = text.charCodeAt(k);
    if (code === 124 && text.charCodeAt(k + 1) === 62 /* > */) return k + 2;
    if (classOf(code) === CharClass.Space) return -1;
  }
  return -1;
}

export function tokenize(text: string, withEnds = false): Tokenization {
  const ids: number[] = [];
  const ends: number[] | undefined = withEnds ? [] : undefined;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const start = i;
    let code = text.charCodeAt(i);
    let cls = classOf(code);
    if (cls === CharClass.Space) {
      const attachable = code === 32 && i + 1 < n && classOf(text.charCodeAt(i + 1)) !== CharClass.Space;
      if (attachable) {
        // A single space before a word belongs to the word (" the"), as in GPT-style BPE.
        i++;
        code = text.charCodeAt(i);
        cls = classOf(code);
      } else {
        let j = i + 1;
        while (j < n && classOf(text.charCodeAt(j)) === CharClass.Space) j++;
        // Leave the run's last space for the following word, like the `\s+(?!\S)` rule.
        const end = j < n && text.charCodeAt(j - 1) === 32 && j - 1 > i ? j - 1 : j;
        ids.push(tokenId(text, start, end));
        ends?.push(end);
        i = end;
        continue;
      }
    }
    let j = i + 1;
    if (cls === CharClass.Letter) {
      while (j < n && classOf(text.charCodeAt(j)) === CharClass.Letter) j++;
    } else if (cls === CharClass.Punct && code === 60 /* < */) {
      const special = specialTokenEnd(text, i);
      if (special > 0) j = special;
    }
    ids.push(tokenId(text, start, j));
    ends?.push(j);
    i = j;
  }
  return ends ? { ids, ends } : { ids };
}

export function countTokens(text: string): number {
  return tokenize(text).ids.length;
}

/** The first `maxTokens` tokens of `text`, as text. */
export function truncateToTokens(text: string, maxTokens: number): string {
  const { ends } = tokenize(text, true);
  if (!ends || ends.length <= maxTokens) return text;
  return maxTokens <= 0 ? '' : text.slice(0, ends[maxTokens - 1]);
}

/** The text of each token (for /tokenize's `return_token_strs`). */
export function tokenStrings(text: string): string[] {
  const { ends } = tokenize(text, true);
  const out: string[] = [];
  let start = 0;
  for (const end of ends ?? []) {
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}
