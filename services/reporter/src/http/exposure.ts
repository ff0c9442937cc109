import { isIP } from 'node:net';
import { bearerMatches } from './bearer';

/**
 * Where the reporter's HTTP listens, and whether that needs a token. Loopback (the default,
 * 127.0.0.1) is reachable only from this machine; any other address (0.0.0.0 in a container, a
 * node's LAN address) exposes the run data and replay to the network, so the reporter refuses to
 * start there unless ASSAY_API_TOKEN is set (then every route but /health needs the bearer token)
 * or ASSAY_HTTP_ALLOW_OPEN=1 says, on purpose, that the network in front is trusted (logged loudly).
 */
export interface HttpExposure {
  host: string;
  /** Bound beyond loopback. */
  exposed: boolean;
  /** The bearer token every route but /health needs when exposed; null when open. */
  token: string | null;
  /** Said at start when the reporter is exposed without a token. */
  warning: string | null;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '::ffff:127.0.0.1';
}

/** The bind address and its token rule from ASSAY_HTTP_HOST, ASSAY_API_TOKEN and ASSAY_HTTP_ALLOW_OPEN; throws when unsafe. */
export function httpExposure(env: NodeJS.ProcessEnv = process.env): HttpExposure {
  const host = env.ASSAY_HTTP_HOST?.trim() || '127.0.0.1';
  if (host !== 'localhost' && isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host)) throw new Error(`ASSAY_HTTP_HOST must be an IP address or host name to bind to, got '${host}'`);
  const token = env.ASSAY_API_TOKEN || null;
  if (isLoopback(host)) return { host, exposed: false, token, warning: null };
  if (token) return { host, exposed: true, token, warning: null };
  const allowOpen = env.ASSAY_HTTP_ALLOW_OPEN ?? '';
  if (allowOpen === '1') {
    return {
      host,
      exposed: true,
      token: null,
      warning: `ASSAY_HTTP_ALLOW_OPEN=1: the reporter listens on ${host} WITHOUT authentication; anyone who can reach it can read every run and trigger replays`,
    };
  }
  if (allowOpen !== '') throw new Error(`ASSAY_HTTP_ALLOW_OPEN must be 1 or unset, got '${allowOpen}'`);
  throw new Error(
    `ASSAY_HTTP_HOST=${host} exposes the reporter beyond this machine: set ASSAY_API_TOKEN (clients send it as a bearer token), ` +
      'or ASSAY_HTTP_ALLOW_OPEN=1 to run it open on a network you trust',
  );
}

/** With an exposed reporter and a token: every route but the health check needs the bearer token. */
export function exposedRequestAllowed(path: string | undefined, authorization: string | string[] | undefined, token: string): boolean {
  return path === '/health' || bearerMatches(authorization, token);
}
