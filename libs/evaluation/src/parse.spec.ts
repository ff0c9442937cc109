import type { ItemDef, Sample } from '@assay/contracts';
import { parseAnswer, toPrediction } from './parse';

const ordinal: ItemDef = { group: 'g', item: 'q', question: 'How much?', min: 1, max: 5, kind: 'ordinal' };
const binary: ItemDef = { group: 'g', item: 'b', question: 'Yes or no?', min: 0, max: 1, kind: 'binary' };
const continuous: ItemDef = { group: 'g', item: 'c', question: 'How many?', min: 0, max: 100, kind: 'continuous' };

describe('parseAnswer', () => {
  describe('given plain text with one answer', () => {
    it.each([
      ['4', 4],
      [' 3.5\n', 3.5],
      ['Answer: 4', 4],
      ["I'd say 4 out of 5", 4],
      ['4/5', 4],
      ['I rate it 4 of 5.', 4],
      ['On a scale of 1 to 5, I would say 2.', 2],
      ['Using the 1-5 scale: 3', 3],
      ['On a 5-point scale, 2', 2],
      ['4. Final answer: 4', 4],
      ['Answer: 4\nThe person is 35 years old.', 4],
      ['a rating of 4', 4],
      ['```\n3\n```', 3],
      ['<think>Could be 2 or 3, maybe 5.</think>\n3', 3],
      ['-2', -2],
      ['Item Q3: 4', 4],
    ])('when %j is parsed, then the value is %d', (raw, expected) => {
      expect(parseAnswer(raw, ordinal)).toEqual({ ok: true, value: expected });
    });
  });

  describe('given JSON', () => {
    it.each([
      ['{"answer": 4}', 4],
      ['{"value": "4"}', 4],
      ['{"Rating": 2, "reason": "has 3 kids"}', 2],
      ['{"answer": 4, "score": 0.9}', 4],
      ['4.25', 4.25],
      ['[3]', 3],
      ['"5"', 5],
      ['```json\n{"answer": 1}\n```', 1],
    ])('when %j is parsed, then the value is %d', (raw, expected) => {
      expect(parseAnswer(raw, ordinal)).toEqual({ ok: true, value: expected });
    });

    it('when a JSON boolean answers a binary item, then it is 1/0', () => {
      expect(parseAnswer('{"answer": true}', binary)).toEqual({ ok: true, value: 1 });
      expect(parseAnswer('false', binary)).toEqual({ ok: true, value: 0 });
    });

    it('when invalid JSON holds a labelled number, then the text rules find it', () => {
      expect(parseAnswer('{answer: 4}', ordinal)).toEqual({ ok: true, value: 4 });
    });

    it('when invalid JSON holds no number, then the reason includes the JSON error', () => {
      const r = parseAnswer('{"answer": ', ordinal);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.reason).toMatch(/^no number in output \(and not valid JSON: .+\)$/);
    });
  });

  describe('given words for a binary item', () => {
    it.each([
      ['yes', 1],
      ['No.', 0],
      ['TRUE', 1],
      ['Yes, because they have 2 children.', 1],
      ['Answer: no', 0],
      ['I think the answer would be yes', 1],
      ['1', 1],
    ])('when %j is parsed, then the value is %d', (raw, expected) => {
      expect(parseAnswer(raw, binary)).toEqual({ ok: true, value: expected });
    });

    it('when a yes/no word answers an ordinal item, then it is not a number', () => {
      expect(parseAnswer('yes', ordinal)).toEqual({ ok: false, reason: 'no number in output' });
    });
  });

  describe('given outputs that cannot be parsed', () => {
    it.each([
      ['', 'empty output'],
      ['  \n ', 'empty output'],
      ['I cannot answer that.', 'no number in output'],
      ['Somewhere between 3 and 5', '2 different numbers (3, 5): ambiguous'],
      ['3-4', '2 different numbers (3, 4): ambiguous'],
      ['Answer: 3. Actually, answer: 5', '2 different labelled answers (3, 5): ambiguous'],
      ['{"reason": "unclear"}', 'JSON object has no answer field (keys: reason)'],
      ['{"answer": null}', 'JSON answer is null'],
      ['[3, 4]', 'JSON array of 2 elements: ambiguous'],
      ['<think>it is 3', 'reasoning block <think> not closed (output truncated?)'],
      ['1e400', 'number Infinity is not finite'],
    ])('when %j is parsed, then it fails with %j', (raw, reason) => {
      expect(parseAnswer(raw, ordinal)).toEqual({ ok: false, reason });
    });

    it('when a binary output says both yes and no, then it is ambiguous', () => {
      expect(parseAnswer('Maybe. Some would say yes, others no.', binary)).toEqual({ ok: false, reason: 'both yes and no found: ambiguous' });
    });

    it('when a JSON boolean answers an ordinal item, then it fails naming the kind', () => {
      expect(parseAnswer('{"answer": true}', ordinal)).toEqual({ ok: false, reason: 'boolean answer (true) but the item is ordinal' });
    });
  });

  describe('given a value outside the range', () => {
    it('when parsed, then it is kept unclipped', () => {
      expect(parseAnswer('7', ordinal)).toEqual({ ok: true, value: 7 });
      expect(parseAnswer('150', continuous)).toEqual({ ok: true, value: 150 });
    });
  });

  describe('given a binary item (every item under labels.mode binary)', () => {
    it('when the answer is 0 or 1 in any form, then it is the label', () => {
      expect(parseAnswer('1', binary)).toEqual({ ok: true, value: 1 });
      expect(parseAnswer('Answer: 0.0', binary)).toEqual({ ok: true, value: 0 });
      expect(parseAnswer('{"answer": 1}', binary)).toEqual({ ok: true, value: 1 });
    });

    it('when the answer is a number between 0 and 1, then it is a failure naming it, not rounded', () => {
      expect(parseAnswer('0.7', binary)).toEqual({ ok: false, reason: 'binary item: answer 0.7 is neither 0 nor 1 (a binary answer is never rounded)' });
      expect(parseAnswer('{"probability": 1, "answer": 0.5}', binary)).toEqual({ ok: false, reason: 'binary item: answer 0.5 is neither 0 nor 1 (a binary answer is never rounded)' });
    });

    it('when the answer is outside 0..1, then it is a failure too, not an outlier to score', () => {
      expect(parseAnswer('Answer: 2', binary)).toEqual({ ok: false, reason: 'binary item: answer 2 is neither 0 nor 1 (a binary answer is never rounded)' });
    });

    it('when parsing fails, then the failure passes through', () => {
      expect(parseAnswer('', binary)).toEqual({ ok: false, reason: 'empty output' });
    });
  });
});

describe('toPrediction', () => {
  const sample: Sample = { entityId: 'e/1', group: 'g', item: 'q', actual: 3 };

  it('given a parsable output, then the prediction is ok', () => {
    expect(toPrediction({ sample, item: ordinal, method: 'm', raw: '4' })).toEqual({
      entityId: 'e/1', group: 'g', item: 'q', method: 'm', predicted: 4, parseStatus: 'ok', outlier: false, metadata: {},
    });
  });

  it('given an out-of-range output, then it is an outlier with its value kept', () => {
    const p = toPrediction({ sample, item: ordinal, method: 'm', raw: '9' });
    expect([p.predicted, p.outlier]).toEqual([9, true]);
  });

  it('given an unparsable output, then it is a parse failure keeping the raw text', () => {
    expect(toPrediction({ sample, item: ordinal, method: 'm', raw: 'dunno' })).toMatchObject({
      predicted: null, parseStatus: 'parse_failure', parseError: 'no number in output', outlier: false, metadata: { raw: 'dunno' },
    });
  });

  it('given 0.7 for a binary item, then it is a parse failure keeping the raw text, not a prediction of 0.7', () => {
    expect(toPrediction({ sample: { ...sample, item: 'b', actual: 1 }, item: binary, method: 'm', raw: '0.7' })).toMatchObject({
      predicted: null, parseStatus: 'parse_failure', outlier: false, metadata: { raw: '0.7' },
    });
  });

  it('given no output and an inference error, then it is an inference failure', () => {
    expect(toPrediction({ sample, item: ordinal, method: 'm', raw: null, inferenceError: 'timeout after 3 retries' })).toMatchObject({
      predicted: null, parseStatus: 'inference_failure', parseError: 'timeout after 3 retries',
    });
  });

  it('given no output and no error, then it throws', () => {
    expect(() => toPrediction({ sample, item: ordinal, method: 'm', raw: null })).toThrow(/no inferenceError/);
  });

  it('given an item that is not the sample\'s, then it throws', () => {
    expect(() => toPrediction({ sample, item: binary, method: 'm', raw: '1' })).toThrow(/sample g\/q given item g\/b/);
  });
});
