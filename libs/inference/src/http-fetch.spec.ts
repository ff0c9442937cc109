import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keepAliveAgents, keepAliveFetch, postRaw, requestTarget, RequestTimeoutError } from './http-fetch';

describe('keepAliveFetch', () => {
  let server: http.Server;
  let base: string;
  let connections = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/hang') return; // never answers
        if (req.url === '/drop') {
          req.socket.destroy();
          return;
        }
        if (req.url === '/empty') {
          res.writeHead(204).end();
          return;
        }
        res.writeHead(req.url === '/bad' ? 400 : 200, { 'content-type': 'application/json', 'x-echo': req.headers['x-echo'] ?? '' });
        res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization ?? null }));
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('given a JSON POST, when fetched, then method, headers, body and status round-trip', async () => {
    const fetch = keepAliveFetch();
    const response = await fetch(`${base}/echo`, { method: 'POST', headers: new Headers({ authorization: 'Bearer k', 'x-echo': 'hi' }), body: '{"a":1}' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-echo')).toBe('hi');
    expect(await response.json()).toEqual({ method: 'POST', body: '{"a":1}', auth: 'Bearer k' });
  });

  it('given requests one after another, when fetched, then they share one kept-alive connection', async () => {
    const fetch = keepAliveFetch();
    const before = connections;
    for (let i = 0; i < 5; i++) await (await fetch(`${base}/echo`, { method: 'POST', body: String(i) })).text();
    expect(connections - before).toBe(1);
  });

  it('given a 4xx, when fetched, then it resolves with the status and the server body (the caller classifies it)', async () => {
    const response = await keepAliveFetch()(`${base}/bad`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { body: string }).body).toBe('x');
  });

  it('given a 204, when fetched, then the response has no body', async () => {
    const response = await keepAliveFetch()(`${base}/empty`);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });

  it('given a request that hangs, when its signal aborts, then it rejects with an AbortError', async () => {
    const controller = new AbortController();
    const pending = keepAliveFetch()(`${base}/hang`, { method: 'POST', body: '', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('given the server drops the connection, when fetched, then it rejects with a TypeError whose cause says why', async () => {
    const error = (await keepAliveFetch()(`${base}/drop`, { method: 'POST', body: '' }).catch((e: unknown) => e)) as TypeError & { cause?: { code?: string } };
    expect(error).toBeInstanceOf(TypeError);
    expect(error.cause?.code).toBe('ECONNRESET');
  });

  it('given a body it cannot send, when fetched, then it rejects naming the body type', async () => {
    await expect(keepAliveFetch()(`${base}/echo`, { method: 'POST', body: new Blob(['x']) })).rejects.toThrow(/string or byte bodies only, got \[object Blob\]/);
  });

  it('given URLs, when split into request targets, then host, port and path are what a socket and a request line take', () => {
    expect(requestTarget(new URL('http://[::1]:8000/v1/completions?x=1'))).toEqual({ protocol: 'http:', hostname: '::1', port: '8000', path: '/v1/completions?x=1' });
    expect(requestTarget(new URL('https://gpu-1/llm/v1/completions'))).toEqual({ protocol: 'https:', hostname: 'gpu-1', port: '', path: '/llm/v1/completions' });
  });

  describe('postRaw', () => {
    const agents = keepAliveAgents();
    const post = (path: string, timeoutMs = 5000, signals: Array<AbortSignal | undefined> = []) => postRaw(agents, requestTarget(new URL(`${base}${path}`)), { 'x-echo': 'hi', authorization: 'Bearer k' }, '{"a":1}', timeoutMs, signals);

    it('given a JSON POST, when posted, then status, headers and the whole body come back', async () => {
      const answer = await post('/echo');
      expect(answer.status).toBe(200);
      expect(answer.headers['x-echo']).toBe('hi');
      expect(JSON.parse(answer.body.toString())).toEqual({ method: 'POST', body: '{"a":1}', auth: 'Bearer k' });
    });

    it('given a 4xx, when posted, then it resolves with the status and body (the caller classifies it)', async () => {
      expect((await post('/bad')).status).toBe(400);
    });

    it('given a request that hangs, when either of its signals aborts, then it rejects with an AbortError', async () => {
      const [a, b] = [new AbortController(), new AbortController()];
      const pending = post('/hang', 5000, [a.signal, undefined, b.signal]);
      setTimeout(() => b.abort(), 20);
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('given a request that hangs past its deadline, when waited for, then it rejects with a RequestTimeoutError', async () => {
      await expect(post('/hang', 30)).rejects.toBeInstanceOf(RequestTimeoutError);
    });

    it('given the server drops the connection, when posted, then it rejects with a TypeError whose cause says why', async () => {
      const error = (await post('/drop').catch((e: unknown) => e)) as TypeError & { cause?: { code?: string } };
      expect(error).toBeInstanceOf(TypeError);
      expect(error.cause?.code).toBe('ECONNRESET');
    });
  });
});
