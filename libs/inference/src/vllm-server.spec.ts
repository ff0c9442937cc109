import { CompletionRequest } from './vllm-server';

describe('CompletionRequest', () => {
  const rest = { max_tokens: 8, temperature: 0, seed: 1, add_special_tokens: false, stop: ['\n'] };
  const expected = (prompt: string) => JSON.stringify({ model: 'm/"x"', prompt, ...rest });

  it('given a prompt as one text or as prefix and suffix, when encoded, then the body is JSON.stringify of the whole request', () => {
    const request = new CompletionRequest('m/"x"', rest);
    const prefix = 'Profile:\n\t"age": 41, città ✓ 🙂\\ end\u0001';
    for (const suffix of ['', 'Q1 "why"?\n', 'ünïcode 🙂']) {
      expect(request.body(prefix + suffix).toString()).toBe(expected(prefix + suffix));
      expect(request.body({ prefix, suffix }).toString()).toBe(expected(prefix + suffix));
    }
  });

  it('given many entities one after another, when encoded, then every body stays exact as old prefixes make room', () => {
    const request = new CompletionRequest('m', {});
    for (let i = 0; i < 200; i++) {
      const prefix = `entity ${i % 97}\n`;
      expect(request.body({ prefix, suffix: `item ${i}` }).toString()).toBe(JSON.stringify({ model: 'm', prompt: `${prefix}item ${i}` }));
    }
  });
});
