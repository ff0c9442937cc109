import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { livenessFromEnv, probeServer, ServerLiveness, ServerUnresponsiveError, type ProbeOutcome } from './server-liveness';

/** A call that settles only when the test says so, or rejects when its signal aborts. */
function pendingCall() {
  let resolve!: (v: string) => void;
  let signal!: AbortSignal;
  const call = (s: AbortSignal) => {
    signal = s;
    return new Promise<string>((res, rej) => {
      resolve = res;
      s.addEventListener('abort', () => rej(new Error('aborted by signal')), { once: true });
    });
  };
  return { call, answer: (v: string) => resolve(v), signal: () => signal };
}

function watch(probe: () => Promise<ProbeOutcome>) {
  let t = 0;
  const said: string[] = [];
  const liveness = new ServerLiveness(probe, { stallAfterMs: 1000, probeTimeoutMs: 200 }, { now: () => t, onUnresponsive: (r) => said.push(r) }, 0);
  return { liveness, said, advance: (ms: number) => (t += ms) };
}

const silent = async (): Promise<ProbeOutcome> => ({ answered: false, reason: 'GET http://gpu:8000/health got no answer within 0.2 s' });
const alive = async (): Promise<ProbeOutcome> => ({ answered: true, ms: 3, status: 200 });

describe('server liveness', () => {
  it('given calls outstanding past the threshold and a server that does not answer its probe, aborts them with a retryable error saying so', async () => {
    const { liveness, said, advance } = watch(silent);
    const a = pendingCall();
    const outcome = liveness.track(a.call).catch((e: unknown) => e);
    advance(1500);
    await liveness.check();
    const error = await outcome;
    expect(error).toBeInstanceOf(ServerUnresponsiveError);
    expect((error as ServerUnresponsiveError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/stopped answering \(1 call\(s\) waiting for 1\.5 s and GET http:\/\/gpu:8000\/health got no answer/);
    expect(said).toHaveLength(1);
  });

  it('given a slow server that answers its probe (a long GPU queue), leaves its calls alone', async () => {
    const { liveness, said, advance } = watch(alive);
    const a = pendingCall();
    const outcome = liveness.track(a.call);
    advance(5000);
    await liveness.check();
    expect(a.signal().aborted).toBe(false);
    a.answer('late but fine');
    await expect(outcome).resolves.toBe('late but fine');
    expect(said).toEqual([]);
  });

  it('given calls younger than the threshold, or answers coming in meanwhile, does not probe', async () => {
    const probe = jest.fn(silent);
    const { liveness, advance } = watch(probe);
    const a = pendingCall();
    void liveness.track(a.call);
    advance(900);
    await liveness.check();
    const b = pendingCall();
    const answered = liveness.track(b.call);
    b.answer('x');
    await answered;
    advance(900); // a has waited 1.8 s, but the server answered b 0.9 s ago
    await liveness.check();
    expect(probe).not.toHaveBeenCalled();
    expect(a.signal().aborted).toBe(false);
  });

  it('given a server known not to answer, fails new calls at once instead of letting them hang, and uses it again once a probe gets an answer', async () => {
    let answering = false;
    const probe = jest.fn(async () => (answering ? alive() : silent()));
    const { liveness, advance } = watch(probe);
    void liveness.track(pendingCall().call).catch(() => undefined);
    advance(1500);
    await liveness.check();
    expect(liveness.notAnswering).toMatch(/no answer/);
    const never = jest.fn(() => new Promise<string>(() => undefined));
    await expect(liveness.track(never)).rejects.toThrow(/not sent: GET http:\/\/gpu:8000\/health got no answer/);
    expect(never).not.toHaveBeenCalled();
    await new Promise((r) => setImmediate(r)); // the probe that call started: still silent
    expect(liveness.notAnswering).toMatch(/no answer/);
    answering = true;
    // This call fails too, but starts a probe that finds the server back.
    await expect(liveness.track(never)).rejects.toBeInstanceOf(ServerUnresponsiveError);
    await new Promise((r) => setImmediate(r));
    expect(liveness.notAnswering).toBeNull();
    await expect(liveness.track(async () => 'back')).resolves.toBe('back');
  });

  it('reads its thresholds from the environment and names a bad value', () => {
    expect(livenessFromEnv({ ASSAY_SERVER_STALL_S: '2', ASSAY_SERVER_PROBE_TIMEOUT_S: '0.5' })).toEqual({ stallAfterMs: 2000, probeTimeoutMs: 500 });
    expect(livenessFromEnv({})).toEqual({ stallAfterMs: 30_000, probeTimeoutMs: 10_000 });
    expect(() => livenessFromEnv({ ASSAY_SERVER_STALL_S: 'soon' })).toThrow("ASSAY_SERVER_STALL_S must be a positive number of seconds, got 'soon'");
  });
});

describe('probeServer', () => {
  let server: Server;
  let url: string;
  let hang = false;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (hang) return; // hold the socket, like a SIGSTOPped process
      res.writeHead(req.url === '/health' ? 200 : 404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('given a server that answers /health, says so', async () => {
    hang = false;
    await expect(probeServer(url, 1000)).resolves.toMatchObject({ answered: true, status: 200 });
  });

  it('given a server that holds the request, says it got no answer within the timeout', async () => {
    hang = true;
    const outcome = await probeServer(url, 100);
    expect(outcome).toEqual({ answered: false, reason: `GET ${url.replace('/v1', '')}/health got no answer within 0.1 s` });
  });

  it('given nothing listening, says the connection failed', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const outcome = await probeServer(`http://127.0.0.1:${port}/v1`, 1000);
    expect(outcome.answered).toBe(false);
    expect((outcome as { reason: string }).reason).toMatch(/ECONNREFUSED/);
  });
});
