export * from './smoke-batch';
