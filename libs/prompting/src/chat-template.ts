import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';

/**
 * Chat templates rendered exactly as the model's tokenizer would (Hugging Face's own Jinja
 * implementation, made for these templates), so the text we log as INPUT is the text the model
 * saw: a logged input that differs from the real one would make every drill-down misleading.
 * The rendered text goes to the completions endpoint verbatim.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatTemplate {
  /** Where it came from: `builtin:<name>` or the file path. */
  source: string;
  template: string;
  bosToken: string;
  eosToken: string;
}

const BUILTIN_TEMPLATES: Record<string, Omit<ChatTemplate, 'source'>> = {
  // Qwen2/ChatML, as in Qwen2.5's tokenizer_config.json (system message optional).
  chatml: {
    template:
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    bosToken: '',
    eosToken: '<|im_end|>',
  },
  // Llama 3 instruct, as in Meta-Llama-3-8B-Instruct's tokenizer_config.json.
  llama3: {
    template:
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    bosToken: '<|begin_of_text|>',
    eosToken: '<|eot_id|>',
  },
};

export const BUILTIN_TEMPLATE_NAMES = Object.keys(BUILTIN_TEMPLATES);

/**
 * `builtin:chatml`, `builtin:llama3`, or a path to a model's tokenizer_config.json (its
 * `chat_template`, `bos_token`, `eos_token`) or to a bare .jinja file.
 */
export function loadChatTemplate(spec: string): ChatTemplate {
  if (spec.startsWith('builtin:')) {
    const name = spec.slice('builtin:'.length);
    const builtin = BUILTIN_TEMPLATES[name];
    if (!builtin) {
      throw new Error(`unknown chat template '${spec}': builtins are ${BUILTIN_TEMPLATE_NAMES.map((n) => `builtin:${n}`).join(', ')}`);
    }
    return { source: spec, ...builtin };
  }
  const text = readFileSync(spec, 'utf8');
  if (!spec.endsWith('.json')) return { source: spec, template: text, bosToken: '', eosToken: '' };
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const template = parsed.chat_template;
  if (typeof template !== 'string') {
    throw new Error(`${spec}: no string 'chat_template' key (named templates lists are not supported)`);
  }
  return { source: spec, template, bosToken: tokenText(parsed.bos_token), eosToken: tokenText(parsed.eos_token) };
}

function tokenText(token: unknown): string {
  if (typeof token === 'string') return token;
  if (token && typeof token === 'object' && typeof (token as { content?: unknown }).content === 'string') {
    return (token as { content: string }).content;
  }
  return '';
}

const compiled = new Map<string, Template>();

export function renderChatTemplate(chat: ChatTemplate, messages: ChatMessage[], addGenerationPrompt = true): string {
  let template = compiled.get(chat.template);
  if (!template) {
    template = new Template(chat.template);
    compiled.set(chat.template, template);
  }
  return template.render({
    messages,
    add_generation_prompt: addGenerationPrompt,
    bos_token: chat.bosToken,
    eos_token: chat.eosToken,
  });
}
