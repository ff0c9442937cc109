export * from './reuse';
