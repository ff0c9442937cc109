import { decodePathSegment, encodePathSegment, MAX_SEGMENT_BYTES } from './path-segment';
import { rng } from './testing/fixtures';

const SAFE = /^[a-z0-9_~-]+$/;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/** Why a name is unsafe, or null. Plain checks: 30k ids through expect() would be slow. */
function unsafe(name: string): string | null {
  if (!SAFE.test(name)) return 'characters outside [a-z0-9_~-]';
  if (Buffer.byteLength(name, 'utf8') > MAX_SEGMENT_BYTES) return 'too long';
  if (WINDOWS_DEVICE.test(name)) return 'Windows device name';
  if (name.startsWith('-')) return 'leading dash';
  return null;
}

function assertSafe(name: string): void {
  expect(unsafe(name)).toBeNull();
}

// Characters that break naive encoders: separators, dots, case pairs, the escape char itself,
// Windows-reserved, control, combining marks / NFC-NFD pairs, astral and lone surrogates.
const ALPHABET = [
  'a', 'A', 'z', 'Z', '0', '9', '_', '-', '.', '/', '\\', ' ', '~', ':', '*', '?', '"', '<', '>', '|',
  '\u0000', '\n', '\t', '\u007f', 'é', 'e\u0301', 'É', 'ß', 'ẞ', '名', '😀', '\ud800', '\udc00', '%', ',', '\u00a0', 'İ', 'ı', 'K', 'K',
];

function randomId(next: () => number): string {
  const len = Math.floor(next() * (next() < 0.05 ? 200 : 8));
  let s = '';
  for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

describe('encodePathSegment', () => {
  it('is injective and safe over many generated ids, and decodes back', () => {
    const next = rng(2024);
    const seen = new Map<string, string>();
    const problems: string[] = [];
    for (let n = 0; n < 30000; n++) {
      const id = randomId(next);
      const name = encodePathSegment(id);
      const why = unsafe(name);
      if (why) problems.push(`${JSON.stringify(id)} -> ${name}: ${why}`);
      // Folded names collide on case-insensitive filesystems: fold before checking uniqueness.
      const folded = name.toLowerCase();
      const previous = seen.get(folded);
      if (previous !== undefined && previous !== id) problems.push(`${JSON.stringify(id)} and ${JSON.stringify(previous)} -> ${name}`);
      seen.set(folded, id);
      if (!name.includes('~~') && decodePathSegment(name) !== id) problems.push(`${JSON.stringify(id)} -> ${name} does not decode back`);
    }
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(20000);
  });

  it('handles the classic hostile ids', () => {
    const cases: Array<[string, string]> = [
      ['a', 'a'],
      ['A', '~a'],
      ['task_A', 'task_~a'],
      ['', '~0'],
      ['.', '~22e'],
      ['..', '~22e~22e'],
      ['a/b', 'a~22fb'],
      ['a\\b', 'a~25cb'],
      ['con', '~263on'],
      ['CON', '~c~o~n'],
      ['com1', '~263om1'],
      ['-5', '~22d5'],
      ['x ', 'x~220'],
      ['~', '~27e'],
      ['é', '~2e9'],
      ['😀', '~51f600'],
    ];
    for (const [id, name] of cases) {
      expect(encodePathSegment(id)).toBe(name);
      expect(decodePathSegment(name)).toBe(id);
    }
  });

  it('keeps NFC and NFD spellings apart (ids are data; no normalisation merges them)', () => {
    expect(encodePathSegment('é')).not.toBe(encodePathSegment('e\u0301'));
  });

  it('escapes caller-reserved names without changing the decoded id', () => {
    expect(encodePathSegment('summary', ['summary'])).toBe('~273ummary');
    expect(decodePathSegment('~273ummary')).toBe('summary');
    expect(encodePathSegment('Summary', ['summary'])).toBe('~summary');
  });

  it('bounds long ids with a hash suffix, distinct per id, including lone surrogates', () => {
    const long = 'x'.repeat(500);
    const a = encodePathSegment(`${long}a`);
    const b = encodePathSegment(`${long}b`);
    const s1 = encodePathSegment(`${long}\ud800`);
    const s2 = encodePathSegment(`${long}\ud801`);
    for (const name of [a, b, s1, s2]) {
      assertSafe(name);
      expect(name).toMatch(/~~[0-9a-f]{20}$/);
      expect(decodePathSegment(name)).toBeNull();
    }
    expect(new Set([a, b, s1, s2]).size).toBe(4);
    // Never cut in the middle of an escape.
    const escaped = encodePathSegment('É'.repeat(200));
    expect(escaped.replace(/~~[0-9a-f]{20}$/, '')).toMatch(/^(~2c9)+$/);
  });
});
