import http from 'node:http';
import https from 'node:https';

export interface KeepAliveAgents {
  'http:': http.Agent;
  'https:': https.Agent;
}

/**
 * No socket cap: the caller's semaphore bounds requests in flight; a cap here would also queue
 * /tokenize and retries behind them. Idle sockets close before the server's keep-alive hint runs out.
 */
export function keepAliveAgents(): KeepAliveAgents {
  return { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
}

/**
 * A `fetch` over node:http(s) with keep-alive agents, for the server's small requests (/v1/models,
 * /tokenize, /metrics, /health): global fetch (undici) costs far more CPU per request. It covers
 * method, headers, a string/bytes body, an AbortSignal and a fully buffered Response. Errors keep
 * the fetch contract callers rely on: an abort rejects with an `AbortError`, a dropped or refused
 * connection with a TypeError whose cause is the socket error. Completions take postRaw instead.
 */
export function keepAliveFetch(agents: KeepAliveAgents = keepAliveAgents()): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      if (input instanceof Request) {
        reject(new TypeError('keepAliveFetch takes a URL and init, not a Request object'));
        return;
      }
      const url = new URL(String(input));
      const agent = agents[url.protocol as keyof typeof agents];
      if (!agent) {
        reject(new TypeError(`keepAliveFetch supports http: and https: URLs, got ${url.protocol}`));
        return;
      }
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      let body: string | Uint8Array | undefined;
      if (typeof init.body === 'string' || init.body instanceof Uint8Array) body = init.body;
      else if (init.body instanceof ArrayBuffer) body = new Uint8Array(init.body);
      else if (init.body !== undefined && init.body !== null) {
        reject(new TypeError(`keepAliveFetch sends string or byte bodies only, got ${Object.prototype.toString.call(init.body)}`));
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => (headers[name] = value));
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));

      const request = (url.protocol === 'https:' ? https : http).request(url, { method: init.method ?? 'GET', headers, agent });
      const onAbort = (): void => {
        request.destroy(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      request.on('error', (error) => {
        done();
        reject(error.name === 'AbortError' ? error : new TypeError('fetch failed', { cause: error }));
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => {
          done();
          reject(error.name === 'AbortError' ? error : new TypeError('fetch failed: response interrupted', { cause: error }));
        });
        response.on('end', () => {
          done();
          const status = response.statusCode ?? 0;
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
          }
          // Statuses that may not carry a body (the Response constructor throws on one).
          const bodyless = status === 204 || status === 205 || status === 304;
          resolve(new Response(bodyless ? null : Buffer.concat(chunks), { status, statusText: response.statusMessage, headers: responseHeaders }));
        });
      });
      request.end(body);
    });
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException(reason instanceof Error ? reason.message : 'This operation was aborted', 'AbortError');
}

/** A buffered HTTP answer: what postRaw resolves with, whatever the status. */
export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** postRaw gave up waiting: its own deadline passed. */
export class RequestTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** Where postRaw sends, split once from a URL (http.request would parse or convert a URL at every call). */
export interface RequestTarget {
  protocol: string;
  hostname: string;
  port: string;
  path: string;
}

export function requestTarget(url: URL): RequestTarget {
  // An IPv6 host is bracketed in a URL, not in a socket address.
  return { protocol: url.protocol, hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port, path: url.pathname + url.search };
}

/**
 * One POST of a ready body over the keep-alive agents, the hot path of a run (one per prompt):
 * none of the WHATWG Request/Response/Headers objects, no AbortSignal.any, one timer. It rejects
 * like keepAliveFetch: an abort of any of `signals` with an AbortError, its own deadline with a
 * RequestTimeoutError, a dropped or refused connection with a TypeError whose cause is the socket error.
 */
export function postRaw(agents: KeepAliveAgents, url: RequestTarget, headers: http.OutgoingHttpHeaders, body: string | Buffer, timeoutMs: number, signals: ReadonlyArray<AbortSignal | undefined>): Promise<RawAnswer> {
  return new Promise<RawAnswer>((resolve, reject) => {
    for (const signal of signals) {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
    }
    const agent = agents[url.protocol as keyof KeepAliveAgents];
    if (!agent) {
      reject(new TypeError(`postRaw supports http: and https: URLs, got ${url.protocol}`));
      return;
    }
    const request = (url.protocol === 'https:' ? https : http).request({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.path,
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      agent,
    });
    let settled = false;
    const listeners: Array<[AbortSignal, () => void]> = [];
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      for (const [signal, listener] of listeners) signal.removeEventListener('abort', listener);
    };
    const fail = (error: Error): void => {
      if (settled) return;
      finish();
      request.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new RequestTimeoutError(timeoutMs)), timeoutMs);
    for (const signal of signals) {
      if (!signal) continue;
      const listener = (): void => fail(abortError(signal));
      signal.addEventListener('abort', listener, { once: true });
      listeners.push([signal, listener]);
    }
    request.on('error', (error) => fail(new TypeError('fetch failed', { cause: error })));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (error) => fail(new TypeError('fetch failed: response interrupted', { cause: error })));
      response.on('end', () => {
        if (settled) return;
        finish();
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) });
      });
    });
    request.end(body);
  });
}
