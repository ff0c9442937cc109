import { compressible } from './compression-filter';

type Req = Parameters<typeof compressible>[0];
type Res = Parameters<typeof compressible>[1];

/** The two things the filter reads: the request, and the response's headers as set so far. */
function response(headers: Record<string, string>): Res {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { getHeader: (name: string) => lower[name.toLowerCase()] } as unknown as Res;
}
const request = { headers: {} } as unknown as Req;

describe('compressible', () => {
  it.each(['text/html; charset=utf-8', 'application/json; charset=utf-8', 'text/javascript; charset=utf-8', 'text/css; charset=utf-8', 'image/svg+xml; charset=utf-8'])(
    'given a %s response, then it is compressed',
    (type) => expect(compressible(request, response({ 'Content-Type': type }))).toBe(true),
  );

  it('given server-sent events, then never: a compressor would hold the progress until its buffer fills', () => {
    expect(compressible(request, response({ 'Content-Type': 'text/event-stream' }))).toBe(false);
    expect(compressible(request, response({ 'Content-Type': 'Text/Event-Stream; charset=utf-8' }))).toBe(false);
  });

  it('given opaque run files (parquet, compressed already) or images, then not', () => {
    expect(compressible(request, response({ 'Content-Type': 'application/octet-stream' }))).toBe(false);
    expect(compressible(request, response({ 'Content-Type': 'image/png' }))).toBe(false);
  });
});
