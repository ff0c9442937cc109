export * from './append';
export * from './bookkeeping';
export * from './database';
export * from './event-store';
export * from './outbox';
export * from './read';
export * from './sql';
export * from './stored-event';
