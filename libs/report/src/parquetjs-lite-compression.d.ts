// The codec table of parquetjs-lite, used to fill in its BROTLI stub (see parquet.ts).
declare module 'parquetjs-lite/lib/compression' {
  export const PARQUET_COMPRESSION_METHODS: Record<string, { deflate: (value: Buffer) => Buffer; inflate: (value: Buffer) => Buffer }>;
}
