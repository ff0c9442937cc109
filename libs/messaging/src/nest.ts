// Nest-specific pieces live apart from index.ts so plain Node code (CLI, tests) does not load Nest.
export * from './jetstream.transport';
export * from './service';
