import compression from 'compression';
import { OPAQUE } from './content-type';

/**
 * Which responses the reporter compresses: compression's own choice (compressible types, no
 * `Cache-Control: no-transform`, bodies of 1 KB and more), but never an event stream, whose
 * messages a compressor would hold until its buffer fills, nor opaque run files (parquet is
 * compressed already; compression would count application/octet-stream in).
 */
export function compressible(req: Parameters<typeof compression.filter>[0], res: Parameters<typeof compression.filter>[1]): boolean {
  const type = res.getHeader('Content-Type');
  if (typeof type === 'string') {
    const essence = type.split(';')[0].trim().toLowerCase();
    if (essence === 'text/event-stream' || essence === OPAQUE) return false;
  }
  return compression.filter(req, res);
}
