export * from './simulator';
export * from './fixtures/database';
export * from './fixtures/stack';
