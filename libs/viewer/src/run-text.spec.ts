import { keyFacts, parseReview, readmeSections } from './run-text';

describe('README and review read back', () => {
  it('given README.txt, then its sections by their underlined titles; the key facts in README order', () => {
    const readme = 'ASSAY RUN x\n===========\n\nPURPOSE\n-------\nwhy\n\nNAVIGATION\n----------\nhere\n\nMODEL\n-----\nModel: m\n  indented\n';
    expect(readmeSections(readme).map((s) => s.title)).toEqual(['PURPOSE', 'NAVIGATION', 'MODEL']);
    expect(keyFacts(readme)).toEqual([{ title: 'PURPOSE', body: 'why' }, { title: 'MODEL', body: 'Model: m\n  indented' }]);
  });

  it('given review.txt, then checks with verdicts, the overall line and the to-dos apart', () => {
    const review = '[PASS] Parse failure rate — 0 of 94\n[FAIL] Ranking — worse\nOVERALL: FAIL — 1 fail, 0 warn, 1 pass of 2 checks\n\nFOR YOU TO DO (not checks):\n[TODO] Spot-check — read these\nodd line\n';
    expect(parseReview(review)).toEqual({
      checks: [
        { verdict: 'PASS', check: 'Parse failure rate', detail: '0 of 94' },
        { verdict: 'FAIL', check: 'Ranking', detail: 'worse' },
      ],
      overall: 'FAIL — 1 fail, 0 warn, 1 pass of 2 checks',
      todos: [{ verdict: 'TODO', check: 'Spot-check', detail: 'read these' }],
      other: ['odd line'],
    });
  });
});
