export * from './html';
export * from './urls';
export * from './table-query';
export * from './components';
export * from './run-text';
export * from './registry-page';
export * from './run-page';
export * from './drill-pages';
