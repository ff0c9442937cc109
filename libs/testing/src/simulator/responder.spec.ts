import { deterministicResponder, findLastRange } from './responder';

const params = { model: 'm', maxTokens: 16, temperature: 0 };

describe('deterministicResponder', () => {
  it('given an integer range, when answered, then the answer is an integer inside it', () => {
    for (let i = 0; i < 50; i++) {
      const answer = deterministicResponder(`profile ${i}\nAnswer with a number between 1 and 7.`, params);
      expect(answer).toMatch(/^\d$/);
      expect(Number(answer)).toBeGreaterThanOrEqual(1);
      expect(Number(answer)).toBeLessThanOrEqual(7);
    }
  });

  it('given several ranges, when answered, then the last one (the question) is used', () => {
    expect(findLastRange('ages from 18 to 99 ... rate it between -2.5 and 2.50')).toMatchObject({ low: -2.5, high: 2.5, decimals: 2 });
    const answer = Number(deterministicResponder('ages from 18 to 99 ... between -2.5 and 2.50', params));
    expect(answer).toBeGreaterThanOrEqual(-2.5);
    expect(answer).toBeLessThanOrEqual(2.5);
  });

  it('given a reversed range, when answered, then the answer is still inside it', () => {
    const answer = Number(deterministicResponder('from 10 to 0', params));
    expect(answer).toBeGreaterThanOrEqual(0);
    expect(answer).toBeLessThanOrEqual(10);
  });

  it('given no range, when answered, then it says 0', () => {
    expect(deterministicResponder('What is your name?', params)).toBe('0');
  });

  it('given the same prompt, when answered twice, then the answers are equal; different profiles spread', () => {
    const prompt = (p: string) => `feature: ${p}\nHow much, from 0 to 100?`;
    expect(deterministicResponder(prompt('5'), params)).toBe(deterministicResponder(prompt('5'), params));
    const answers = new Set(Array.from({ length: 30 }, (_, i) => deterministicResponder(prompt(String(i * 37)), params)));
    expect(answers.size).toBeGreaterThan(10);
  });
});
