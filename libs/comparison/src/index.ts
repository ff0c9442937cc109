export * from './compare';
export * from './directory';
