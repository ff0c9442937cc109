export * from './inference-failures';
export * from './scoring';
export * from './fit';
