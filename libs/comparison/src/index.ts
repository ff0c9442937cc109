export * from './compare';
export * from './directory';
export * from './from-report';
export * from './previous';
