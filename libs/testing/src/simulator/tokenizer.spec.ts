import { countTokens, tokenStrings, tokenize, truncateToTokens } from './tokenizer';

describe('tokenizer', () => {
  it('given a sentence, when tokenized, then words keep their leading space and digits and punctuation stand alone', () => {
    expect(tokenStrings('Hello world, 123!')).toEqual(['Hello', ' world', ',', ' 1', '2', '3', '!']);
  });

  it('given chat special tokens, when tokenized, then each is one token', () => {
    expect(tokenStrings('<|im_start|>user\nHi<|im_end|>')).toEqual(['<|im_start|>', 'user', '\n', 'Hi', '<|im_end|>']);
  });

  it('given whitespace runs, when tokenized, then the last space joins the next word and newlines stay together', () => {
    expect(tokenStrings('a  b')).toEqual(['a', ' ', ' b']);
    expect(tokenStrings('a\n\nb ')).toEqual(['a', '\n\n', 'b', ' ']);
  });

  it('given the same text twice, when tokenized, then the ids are equal and equal tokens share an id', () => {
    const a = tokenize('the cat and the dog').ids;
    expect(tokenize('the cat and the dog').ids).toEqual(a);
    expect(a[1]).not.toBe(a[3]); // ' cat' vs ' the'
    expect(a[3]).toBe(tokenize(' the').ids[0]);
  });

  it('given any text, when tokens are joined back, then the text is reproduced', () => {
    const text = 'Profile:\n  age: 42.5\tincome: -3\n\nQuestion: "from 1 to 7"? ünïcode wörds <|x|> <|unclosed';
    expect(tokenStrings(text).join('')).toBe(text);
  });

  it('given a limit, when truncating, then the first N tokens remain', () => {
    expect(truncateToTokens('12.75', 2)).toBe('12');
    expect(truncateToTokens('12.75', 9)).toBe('12.75');
  });

  it('given benchmark-sized prompts, when tokenized, then it stays linear (no per-token regex or copies)', () => {
    const profile = Array.from({ length: 250 }, (_, i) => `feature_${i}: ${(i * 7) % 10}.0`).join('\n');
    expect(countTokens(profile)).toBeGreaterThan(2000);
    const started = performance.now();
    for (let i = 0; i < 200; i++) countTokens(`${profile}\nQuestion ${i}`);
    // ~10 ms on an idle machine (42k prompts ≈ 2 s); the bound only catches a quadratic slip,
    // with room for a CPU shared by many jest workers.
    expect(performance.now() - started).toBeLessThan(4000);
  });
});
