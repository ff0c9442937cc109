import { diagnoseStall, type StallObservation } from './progress';

const healthy: StallObservation = {
  stage: 'inference',
  quietS: 65,
  services: { alive: ['planner', 'inference-worker', 'evaluator', 'reporter'], silent: [] },
  modelServer: { url: 'http://gpu:8000/v1', answered: true, detail: '/health answered in 4 ms' },
  retriesSinceProgress: 0,
  lastReport: { source: 'worker-1', agoS: 3 },
  lastMessage: null,
};

describe('diagnosing a stalled run', () => {
  it('given every service stopped, says no worker runs and how to start one, not a hopeful ETA', () => {
    const lines = diagnoseStall({ ...healthy, services: { alive: [], silent: ['evaluator', 'inference-worker', 'planner', 'reporter'] }, lastReport: { source: 'worker-1', agoS: 70 } });
    expect(lines[0]).toBe('no progress for 1m05s (waiting for inference)');
    expect(lines[1]).toBe("no inference-worker is running (none answers a health ping): start one ('npm run up', or 'npm run start:inference-worker')");
    expect(lines).toContain('not answering health pings: evaluator, planner, reporter');
    expect(lines).toContain('last progress report: worker-1, 1m10s ago');
  });

  it('given a frozen model server, says it does not answer, with the retries and what the worker said', () => {
    const lines = diagnoseStall({
      ...healthy,
      modelServer: { url: 'http://gpu:8000/v1', answered: false, detail: 'GET http://gpu:8000/health got no answer within 5 s' },
      retriesSinceProgress: 32,
      lastMessage: { source: 'worker-1', text: 'the model server stopped answering; retrying', agoS: 12 },
    });
    expect(lines.slice(1)).toEqual([
      'the model server does not answer: GET http://gpu:8000/health got no answer within 5 s',
      '32 model call retries since the last prompt was done',
      'worker-1 said 12s ago: the model server stopped answering; retrying',
      'last progress report: worker-1, 3s ago',
    ]);
  });

  it('given evaluation waiting with no evaluator, blames the evaluator, not the worker', () => {
    const lines = diagnoseStall({ ...healthy, stage: 'evaluation', modelServer: null, services: { alive: ['inference-worker'], silent: ['evaluator'] } });
    expect(lines[1]).toMatch(/^no evaluator is running/);
  });

  it('given nothing wrong to be seen, says the run is slow, not stuck', () => {
    expect(diagnoseStall(healthy).pop()).toBe('every service and the model server answer (/health answered in 4 ms): slow, not stuck, as far as can be told');
  });

  it('given a long evaluation with the evaluator answering, says it is slow, not stuck', () => {
    expect(diagnoseStall({ ...healthy, stage: 'evaluation', modelServer: null }).pop()).toBe('the evaluator answers health pings: slow, not stuck, as far as can be told');
  });

  it('given no progress report since following began, says so', () => {
    expect(diagnoseStall({ ...healthy, lastReport: null })).toContain('no service has reported progress on this run since it was followed');
  });
});
