import { encodePathSegment } from '@assay/report';

/**
 * The viewer's URLs. They mirror the run directory (groups/<group>/entities/<entity>/items/<item>)
 * and use its path-segment encoding, so a URL is stable (the same ids give the same URL), safe
 * (only [a-z0-9_~-] in a segment: no '/', '..', '%', quotes or markup), and shareable. Every page
 * has a JSON twin: the same path with '.json' appended to its last segment (an encoded segment
 * never contains a '.', so the suffix cannot be part of an id).
 */

export const VIEWER_BASE = '/experiments';
export const COMPARISONS_PATH = '/comparisons';
export const ASSETS_BASE = '/viewer/assets';
export const LIVE_PATH = '/viewer/live';
export const JSON_SUFFIX = '.json';

export type QueryValue = string | number | boolean | null | undefined;

/** Appends the query parameters that have a value, in the order given (stable URLs). */
export function withQuery(path: string, params: Record<string, QueryValue>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== '' && v !== false)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length === 0 ? path : `${path}?${parts.join('&')}`;
}

/** The JSON twin of a page URL: '.json' on the last path segment, the query kept. */
export function jsonTwin(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return `${path}${JSON_SUFFIX}${q < 0 ? '' : url.slice(q)}`;
}

export function registryUrl(params: Record<string, QueryValue> = {}): string {
  return withQuery(VIEWER_BASE, params);
}

export function runUrl(identity: string, params: Record<string, QueryValue> = {}): string {
  return withQuery(`${VIEWER_BASE}/${encodeURIComponent(identity)}`, params);
}

export function groupUrl(identity: string, group: string, params: Record<string, QueryValue> = {}): string {
  return withQuery(`${runUrl(identity)}/groups/${encodePathSegment(group)}`, params);
}

export function entityUrl(identity: string, group: string, entityId: string, params: Record<string, QueryValue> = {}): string {
  return withQuery(`${groupUrl(identity, group)}/entities/${encodePathSegment(entityId)}`, params);
}

export function callUrl(identity: string, group: string, entityId: string, item: string): string {
  return `${entityUrl(identity, group, entityId)}/items/${encodePathSegment(item)}`;
}

export type DiagnosticsKind = 'parse-failures' | 'outliers' | 'value-ranges';
export const DIAGNOSTICS_KINDS: readonly DiagnosticsKind[] = ['parse-failures', 'outliers', 'value-ranges'];

export function diagnosticsUrl(identity: string, kind: DiagnosticsKind, params: Record<string, QueryValue> = {}): string {
  return withQuery(`${runUrl(identity)}/diagnostics/${kind}`, params);
}

/** A file of the run directory through the reporter's HTTP API (relative path already made of safe segments). */
export function fileUrl(identity: string, relative: string): string {
  return `/api/experiments/${encodeURIComponent(identity)}/files/${relative}`;
}

export function assetUrl(name: string): string {
  return `${ASSETS_BASE}/${name}`;
}

export function plotUrl(identity: string, name: string): string {
  return `${runUrl(identity)}/plots/${name}.svg`;
}

/** Two or more runs side by side: `/comparisons?run=<identity>&run=<identity>[&unpaired=1]`, runs in the order given (the first is the baseline). */
export function comparisonUrl(identities: readonly string[], opts: { unpaired?: boolean } = {}): string {
  const parts = identities.map((id) => `run=${encodeURIComponent(id)}`);
  if (opts.unpaired) parts.push('unpaired=1');
  return parts.length === 0 ? COMPARISONS_PATH : `${COMPARISONS_PATH}?${parts.join('&')}`;
}
