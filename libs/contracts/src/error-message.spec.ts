import { errorMessage } from './error-message';

describe('errorMessage', () => {
  it('given an Error, when described, then its message', () => {
    expect(errorMessage(new TypeError('bad'))).toBe('bad');
  });

  it('given a thrown string (parquetjs-lite threw these), when described, then the string itself', () => {
    expect(errorMessage('invalid compression method: ZSTD')).toBe('invalid compression method: ZSTD');
  });

  it('given an Error without a message, when described, then never empty: its name', () => {
    expect(errorMessage(new RangeError(''))).toBe('RangeError');
  });

  it('given a plain object with a message, when described, then that message; without one, its JSON', () => {
    expect(errorMessage({ message: 'from a worker' })).toBe('from a worker');
    expect(errorMessage({ code: 42 })).toBe('{"code":42}');
  });

  it('given odd values, when described, then a non-empty text', () => {
    expect(errorMessage(undefined)).toBe('undefined');
    expect(errorMessage(null)).toBe('null');
    expect(errorMessage('')).toBe('(empty error string thrown)');
    expect(errorMessage(7)).toBe('7');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(errorMessage(cyclic)).toBe('[object Object]');
  });
});
