export * from './attempt-end';
export * from './give-up';
export * from './logged-progress';
export * from './progress-view';
export * from './registry';
