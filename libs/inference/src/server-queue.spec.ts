import { MetricsServerQueue, parseWaitingRequests } from './server-queue';

describe('parseWaitingRequests', () => {
  it('sums vLLM\'s waiting gauge over its label sets and ignores look-alike names', () => {
    const text = [
      '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{engine="0",model_name="m"} 3.0',
      'vllm:num_requests_waiting{engine="1",model_name="m"} 2',
      'vllm:num_requests_waiting_by_reason{reason="capacity"} 99',
      'vllm:num_requests_running{model_name="m"} 64',
    ].join('\n');
    expect(parseWaitingRequests(text)).toBe(5);
    expect(parseWaitingRequests('vllm:num_requests_waiting 0\n')).toBe(0);
  });

  it('says null when the gauge is absent', () => {
    expect(parseWaitingRequests('vllm:num_requests_running 1\n')).toBeNull();
    expect(parseWaitingRequests('')).toBeNull();
  });
});

describe('MetricsServerQueue', () => {
  const respond = (status: number, body: string) => (async () => new Response(body, { status })) as unknown as typeof fetch;

  it('reads /metrics at the server root, beside /v1', async () => {
    const urls: string[] = [];
    const fetchFn = (async (url: string) => (urls.push(url), new Response('vllm:num_requests_waiting{model_name="m"} 7\n'))) as unknown as typeof fetch;
    const queue = new MetricsServerQueue('http://gpu-1:8000/v1', () => undefined, fetchFn);
    await expect(queue.waiting()).resolves.toBe(7);
    expect(urls).toEqual(['http://gpu-1:8000/metrics']);
  });

  it('given a server without the endpoint, says so once and stops asking', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const fetchFn = (async () => (calls++, new Response('not found', { status: 404 }))) as unknown as typeof fetch;
    const queue = new MetricsServerQueue('http://s:1/v1', (w) => warnings.push(w), fetchFn);
    await expect(queue.waiting()).resolves.toBeNull();
    await expect(queue.waiting()).resolves.toBeNull();
    expect(calls).toBe(1);
    expect(warnings).toEqual(['http://s:1/metrics answered 404: entities are admitted without looking at the server\'s queue']);
    const noGauge = new MetricsServerQueue('http://s:1/v1', (w) => warnings.push(w), respond(200, 'other_metric 1\n'));
    await expect(noGauge.waiting()).resolves.toBeNull();
    expect(warnings[1]).toContain('has no vllm:num_requests_waiting gauge');
  });

  it('given a failing read, says so at the start of the streak and answers unknown', async () => {
    const warnings: string[] = [];
    let fail = true;
    const fetchFn = (async () => {
      if (fail) throw new TypeError('fetch failed: ECONNREFUSED');
      return new Response('vllm:num_requests_waiting 1\n');
    }) as unknown as typeof fetch;
    const queue = new MetricsServerQueue('http://s:1/v1', (w) => warnings.push(w), fetchFn);
    await expect(queue.waiting()).resolves.toBeNull();
    await expect(queue.waiting()).resolves.toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('ECONNREFUSED');
    fail = false;
    await expect(queue.waiting()).resolves.toBe(1);
  });
});
