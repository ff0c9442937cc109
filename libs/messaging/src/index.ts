export * from './connection';
export * from './consumer-runner';
export * from './errors';
export * from './nats-config';
export * from './publisher';
export * from './run-log';
export * from './progress-reporter';
export * from './attempt-watch';
