import { z } from 'zod';

/**
 * The subset of vLLM's OpenAI-compatible request bodies the simulator understands. Unknown
 * fields are ignored, as vLLM does (it only logs them), so a worker sending vLLM extensions
 * (guided_json, response_format, chat_template_kwargs, ...) behaves as against the real server.
 * Fields vLLM supports but the simulator cannot honour are rejected with a message saying so,
 * rather than answered wrongly.
 */

// vLLM makes `model` optional: it then serves the first served model.
const model = z.string().min(1).optional();
const maxTokens = z.int().min(1).nullish();
const temperature = z.number().min(0).nullish();
const seed = z.int().nullish();
const stop = z.union([z.string(), z.array(z.string())]).nullish();
const n = z.int().min(1).max(16).nullish();
const notSupported = (what: string) =>
  z
    .unknown()
    .optional()
    .refine((v) => v === undefined || v === null || v === false, { message: `${what} is not supported by the simulator` });

export const CompletionRequestSchema = z.object({
  model,
  prompt: z.string({ error: 'prompt must be a single string (the simulator does not take lists or token ids)' }),
  max_tokens: maxTokens,
  temperature,
  seed,
  stop,
  n,
  add_special_tokens: z.boolean().nullish(),
  stream: notSupported('stream'),
  echo: notSupported('echo'),
  response_format: z.unknown().optional(),
  guided_json: z.unknown().optional(),
});
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  // vLLM accepts content parts; only text parts make sense here. They are joined by newlines.
  content: z.union([z.string(), z.array(textPart)]),
});

export const ChatCompletionRequestSchema = z.object({
  model,
  messages: z.array(ChatMessageSchema).min(1),
  max_tokens: maxTokens,
  max_completion_tokens: maxTokens,
  temperature,
  seed,
  stop,
  n,
  add_generation_prompt: z.boolean().nullish(),
  add_special_tokens: z.boolean().nullish(),
  continue_final_message: notSupported('continue_final_message'),
  chat_template: notSupported('a per-request chat_template'),
  stream: notSupported('stream'),
  response_format: z.unknown().optional(),
  guided_json: z.unknown().optional(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

export const TokenizeRequestSchema = z.union([
  z.object({
    model,
    prompt: z.string(),
    add_special_tokens: z.boolean().nullish(),
    return_token_strs: z.boolean().nullish(),
  }),
  z.object({
    model,
    messages: z.array(ChatMessageSchema).min(1),
    add_generation_prompt: z.boolean().nullish(),
    add_special_tokens: z.boolean().nullish(),
    return_token_strs: z.boolean().nullish(),
  }),
]);
export type TokenizeRequest = z.infer<typeof TokenizeRequestSchema>;

export function messageText(content: z.infer<typeof ChatMessageSchema>['content']): string {
  return typeof content === 'string' ? content : content.map((part) => part.text).join('\n');
}

export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');
}

/**
 * vLLM's error body (`ErrorResponse`): `{ error: { message, type, param, code } }`, the shape of
 * current vLLM and of OpenAI. (vLLM <= 0.10 sent these fields flat, with `object: 'error'`; the
 * openai client only reads the nested `error`, so with the flat shape its messages were lost.)
 */
export interface ErrorBody {
  error: { message: string; type: string; param: null; code: number };
}

export function errorBody(code: number, type: string, message: string): ErrorBody {
  return { error: { message, type, param: null, code } };
}

/** The messages vLLM gives when the prompt, or prompt + max_tokens, does not fit. */
export function contextLengthError(maxModelLen: number, promptTokens: number, maxTokens: number | undefined): string | undefined {
  if (promptTokens >= maxModelLen) {
    return (
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ` +
      `${promptTokens} input tokens. Please reduce the length of the input messages.`
    );
  }
  if (maxTokens !== undefined && promptTokens + maxTokens > maxModelLen) {
    return (
      `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context ` +
      `length is ${maxModelLen} tokens and your request has ${promptTokens} input tokens ` +
      `(${maxTokens} > ${maxModelLen} - ${promptTokens}).`
    );
  }
  return undefined;
}
