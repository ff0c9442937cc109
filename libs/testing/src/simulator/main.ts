import { Command, InvalidArgumentError, Option } from 'commander';
import { startSimulator } from './simulator';
import { GPU_LIKE_LATENCY, ZERO_LATENCY, type LatencyModel } from './scheduler';
import { errorMessage } from '@assay/contracts';

/**
 * `node dist/libs/testing/src/simulator/main.js --port 8011 --model sim/llm-8b --latency gpu`
 * Prints `simulator listening on <url>` once it accepts requests (scripts wait for that line).
 */

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got '${value}'`);
    return n;
  };
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got '${value}'`);
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface CliOptions {
  host: string;
  port: number;
  model: string[];
  maxModelLen: number;
  latency: 'zero' | 'gpu';
  prefillMsPerToken?: number;
  decodeMsPerToken?: number;
  maxNumSeqs?: number;
  blockSize: number;
  cacheBlocks?: number;
  chatTemplate: string;
  loraModules?: Array<{ name: string; path: string }>;
  /** commander's --no-x: false when given. */
  cachedTokens: boolean;
  prefixCacheMetrics: boolean;
}

/** vLLM's `--lora-modules name=path`. */
function loraModule(value: string, previous: Array<{ name: string; path: string }> | undefined): Array<{ name: string; path: string }> {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError(`expected name=path, got '${value}'`);
  return [...(previous ?? []), { name: value.slice(0, at), path: value.slice(at + 1) }];
}

async function main(): Promise<void> {
  const program = new Command()
    .name('assay-simulator')
    .description('An OpenAI-compatible server that behaves like vLLM (prefix cache, queueing, metrics) without a GPU.')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', integer(0), 8000)
    .requiredOption('--model <id>', 'a model id to serve (repeatable)', collect)
    .option('--max-model-len <tokens>', 'context length of every model', integer(2), 8192)
    .addOption(new Option('--latency <preset>', 'latency preset').choices(['zero', 'gpu']).default('zero'))
    .option('--prefill-ms-per-token <ms>', 'override the preset prefill cost', nonNegative)
    .option('--decode-ms-per-token <ms>', 'override the preset decode cost', nonNegative)
    .option('--max-num-seqs <n>', 'override the preset concurrency limit', integer(1))
    .option('--block-size <tokens>', 'prefix cache block size', integer(1), 16)
    .option('--cache-blocks <n>', 'prefix cache capacity in blocks (LRU)', integer(0))
    .option('--lora-modules <name=path>', 'a LoRA adapter served on the first --model as its own model id (repeatable)', loraModule)
    .option('--chat-template <spec>', 'builtin:chatml, builtin:llama3, or a tokenizer_config.json / .jinja path', 'builtin:chatml')
    .option('--no-cached-tokens', 'answer without usage.prompt_tokens_details.cached_tokens (vLLM without --enable-prompt-tokens-details)')
    .option('--no-prefix-cache-metrics', 'leave the vllm:prefix_cache_hits_total / _queries_total counters out of /metrics')
    .parse();
  const o = program.opts<CliOptions>();
  const preset = o.latency === 'gpu' ? GPU_LIKE_LATENCY : ZERO_LATENCY;
  const latency: LatencyModel = {
    prefillMsPerToken: o.prefillMsPerToken ?? preset.prefillMsPerToken,
    decodeMsPerToken: o.decodeMsPerToken ?? preset.decodeMsPerToken,
    maxNumSeqs: o.maxNumSeqs ?? preset.maxNumSeqs,
  };
  const sim = await startSimulator({
    host: o.host,
    port: o.port,
    models: o.model.map((id, i) => ({ id, maxModelLen: o.maxModelLen, chatTemplate: o.chatTemplate, loraAdapters: i === 0 ? o.loraModules : undefined })),
    latency,
    cache: { blockSize: o.blockSize, capacityBlocks: o.cacheBlocks },
    noCachedTokens: !o.cachedTokens,
    noPrefixCacheMetrics: !o.prefixCacheMetrics,
  });
  console.log(`simulator listening on ${sim.url}`);
  const stop = (signal: string): void => {
    sim.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`simulator: closing on ${signal} failed:`, error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`simulator: ${errorMessage(error)}`);
  process.exit(1);
});
