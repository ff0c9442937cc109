// Internals of parquetjs-lite that parquet.ts adjusts: the codec table (to fill in its BROTLI
// stub) and the record shredder (a faster path for flat schemas), plus the type conversions.
declare module 'parquetjs-lite/lib/compression' {
  export const PARQUET_COMPRESSION_METHODS: Record<string, { deflate: (value: Buffer) => Buffer; inflate: (value: Buffer) => Buffer }>;
}
declare module 'parquetjs-lite/lib/shred' {
  // The writer calls it through this object, so replacing the property replaces what it calls.
  const shred: { shredRecord: (schema: any, record: any, buffer: any) => void };
  export = shred;
}
declare module 'parquetjs-lite/lib/types' {
  export function toPrimitive(type: string, value: unknown): unknown;
}
declare module 'parquetjs-lite/lib/codec/plain' {
  // The writer calls it through the codec table, which holds this same object.
  export let encodeValues: (type: string, values: unknown[], opts: unknown) => Buffer;
}
