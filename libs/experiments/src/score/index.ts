export * from './inference-failures';
export * from './scoring';
export * from './fit';
export * from './early-baselines';
export * from './run-baselines';
