export * from './inference-failures';
export * from './scoring';
