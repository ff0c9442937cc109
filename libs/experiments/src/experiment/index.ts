export * from './stages';
export * from './state';
export * from './decide';
export * from './load';
export * from './commands';
