/** Version of the parsing and scoring rules; bump on any change that can alter a number (stage key). */
export const EVALUATOR_VERSION = 'eval/v1';
