export * from './registry';
export * from './run-dir';
export * from './prepare';
export * from './preflight';
export * from './model-settings';
export * from './scoring';
export * from './run-report';
export * from './registry-file';
