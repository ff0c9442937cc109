export * from './chat-template';
export * from './templates';
export * from './prompts';
