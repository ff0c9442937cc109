export { llmZeroShot } from './method';
