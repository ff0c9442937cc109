export * from './evaluation-rounds';
