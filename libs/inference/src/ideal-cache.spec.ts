import { batchIdeal, idealBatchCachedTokens, sharedSuffixStarts, sharedWithOthers } from './ideal-cache';

describe('sharedWithOthers', () => {
  it('given strings, when compared, then each gets the longest start it shares with any other', () => {
    expect(sharedWithOthers(['abcd', 'abx', 'zz', 'abcf'])).toEqual([3, 2, 0, 3]);
    expect(sharedWithOthers(['only'])).toEqual([0]);
  });
  it('given suffixes, then the shared starts are the texts to count', () => {
    expect(sharedSuffixStarts(['Q1: x', 'Q1: y', 'R'])).toEqual(['Q1: ', 'Q1: ', '']);
  });
});

describe('idealBatchCachedTokens', () => {
  it('given prompts whose suffixes share a start, when bounded, then each reuses prefix + shared start, the first only the head', () => {
    const ideal = idealBatchCachedTokens({
      prefixTokens: 100,
      headTokens: 10,
      prompts: [
        { promptTokens: 110, sharedSuffixTokens: 4, sentBefore: false },
        { promptTokens: 112, sharedSuffixTokens: 4, sentBefore: false },
        { promptTokens: 105, sharedSuffixTokens: 0, sentBefore: false },
      ],
    });
    // 104 + 104 + 100, less the smallest loss of being first: the third (100 - 10 = 90).
    expect(ideal).toBe(104 + 104 + 100 - 90);
  });
  it('given a prompt sent before (smoke test) or an unknown head, then no first-prompt deduction and the repeat may be whole', () => {
    expect(idealBatchCachedTokens({ prefixTokens: 100, headTokens: null, prompts: [{ promptTokens: 110, sharedSuffixTokens: 0, sentBefore: false }, { promptTokens: 110, sharedSuffixTokens: 0, sentBefore: false }] })).toBe(200);
    expect(idealBatchCachedTokens({ prefixTokens: 100, headTokens: 0, prompts: [{ promptTokens: 110, sharedSuffixTokens: 0, sentBefore: true }, { promptTokens: 110, sharedSuffixTokens: 0, sentBefore: false }] })).toBe(210);
  });
});

describe('batchIdeal', () => {
  const batch = { prefix: 'P'.repeat(50), prefixSharedChars: 10, prompts: [{ promptId: 'a', suffix: 'Q: 1' }, { promptId: 'b', suffix: 'Q: 2' }] };
  it('given failed prompts, then only answered ones count', () => {
    const results = [
      { promptId: 'a', status: 'ok' as const, promptTokens: 60 },
      { promptId: 'b', status: 'error' as const, promptTokens: null },
    ];
    expect(batchIdeal(batch, 50, { headTokens: 3, sharedSuffixTokens: [2, 2] }, results)).toBe(3);
  });
  it('given a count missing, then null', () => {
    expect(batchIdeal(batch, null, { headTokens: 3, sharedSuffixTokens: [2, 2] }, [])).toBeNull();
    expect(batchIdeal(batch, 50, null, [])).toBeNull();
  });
});
