export * from './registry-file';
export * from './run-dir';
export * from './run-report';
