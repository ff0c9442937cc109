export * from './entity-pipeline';
export * from './model-client';
export * from './retry';
export * from './run-batch';
export * from './semaphore';
export * from './server-queue';
export * from './server-liveness';
export * from './server-urls';
