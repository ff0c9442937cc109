export * from './labels';
export * from './model-settings';
export * from './plan-append';
export * from './plan-events';
export * from './plan-pages';
export * from './preflight';
export * from './prepare';
export * from './entity-input';
