import { exposedRequestAllowed, httpExposure, isLoopback } from './exposure';

describe('httpExposure (bind address and token rule)', () => {
  it('given nothing set, then loopback, open to this machine only', () => {
    expect(httpExposure({})).toEqual({ host: '127.0.0.1', exposed: false, token: null, warning: null });
  });

  it('given ASSAY_HTTP_HOST beyond loopback and no token, then it refuses to start, saying how to fix it', () => {
    expect(() => httpExposure({ ASSAY_HTTP_HOST: '0.0.0.0' })).toThrow('ASSAY_HTTP_HOST=0.0.0.0 exposes the reporter beyond this machine: set ASSAY_API_TOKEN');
    expect(() => httpExposure({ ASSAY_HTTP_HOST: '10.0.0.5', ASSAY_API_TOKEN: '' })).toThrow('ASSAY_HTTP_ALLOW_OPEN=1');
  });

  it('given ASSAY_HTTP_HOST beyond loopback and a token, then exposed behind the token', () => {
    expect(httpExposure({ ASSAY_HTTP_HOST: '0.0.0.0', ASSAY_API_TOKEN: 's3cret' })).toEqual({ host: '0.0.0.0', exposed: true, token: 's3cret', warning: null });
  });

  it('given the explicit opt-out, then exposed without a token and a loud warning; any other value of it is an error', () => {
    expect(httpExposure({ ASSAY_HTTP_HOST: '::', ASSAY_HTTP_ALLOW_OPEN: '1' })).toMatchObject({ exposed: true, token: null, warning: expect.stringContaining('WITHOUT authentication') });
    expect(() => httpExposure({ ASSAY_HTTP_HOST: '::', ASSAY_HTTP_ALLOW_OPEN: 'yes' })).toThrow("ASSAY_HTTP_ALLOW_OPEN must be 1 or unset, got 'yes'");
  });

  it('given a malformed bind address, then an error naming the variable', () => {
    expect(() => httpExposure({ ASSAY_HTTP_HOST: 'http://0.0.0.0' })).toThrow("ASSAY_HTTP_HOST must be an IP address or host name to bind to, got 'http://0.0.0.0'");
  });

  it('tells loopback addresses from others', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '10.1.1.1', 'reporter'].map(isLoopback)).toEqual([false, false, false, false]);
  });
});

describe('exposedRequestAllowed', () => {
  it('given the right bearer token, then any route passes; given none or a wrong one, then refused', () => {
    expect(exposedRequestAllowed('/api/experiments', 'Bearer s3cret', 's3cret')).toBe(true);
    expect(exposedRequestAllowed('/api/experiments', undefined, 's3cret')).toBe(false);
    expect(exposedRequestAllowed('/runs/x', 'Bearer nope', 's3cret')).toBe(false);
  });

  it('given the health check, then it passes without a token (container healthchecks)', () => {
    expect(exposedRequestAllowed('/health', undefined, 's3cret')).toBe(true);
  });
});
