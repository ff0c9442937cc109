import http from 'node:http';
import https from 'node:https';

/**
 * A `fetch` for the openai client over node:http(s) with a keep-alive Agent. Global fetch
 * (undici) costs about 0.9 ms of CPU per prompt in the worker (stream plumbing, WHATWG
 * Request/Response machinery); this plain request/response path is much cheaper, and the
 * workload is tens of thousands of small JSON POSTs to one server.
 *
 * It covers what the openai client uses: method, headers, a string/bytes body, an AbortSignal
 * (the client's timeout) and a fully buffered Response. Errors keep the fetch contract the client
 * relies on: an abort rejects with an `AbortError` (the client turns it into a timeout), a
 * dropped or refused connection rejects with a TypeError whose cause is the socket error.
 */
export function keepAliveFetch(): typeof fetch {
  // No socket cap: the caller's semaphore bounds requests in flight; a cap here would also queue
  // /tokenize and retries behind them. Idle sockets close before the server's keep-alive hint runs out.
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
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
