import { FaultInjector } from './faults';

describe('FaultInjector', () => {
  it('given okFirst 2 and status4xxFirst 2, when asked, then two requests pass, two fail, then all pass', () => {
    const faults = new FaultInjector({ okFirst: 2, status4xxFirst: 2 });
    expect(Array.from({ length: 5 }, () => faults.next())).toEqual(['none', 'none', 'fail4xx', 'fail4xx', 'none']);
  });

  it('given okFirst with hangFirst, when asked, then the hang starts after the answered ones (a server that freezes mid-run)', () => {
    const faults = new FaultInjector({ okFirst: 1, hangFirst: 2 });
    expect(Array.from({ length: 4 }, () => faults.next())).toEqual(['none', 'hang', 'hang', 'none']);
  });
});
