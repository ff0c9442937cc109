import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CODE_ROOT } from './root';
import type { SimulatorStats } from '../../libs/testing/src/simulator/metrics';
import { stopChild } from './proc';
import { logChildOutput } from '../../libs/testing/src/fixtures/child-log';

/** HTTP view of a running simulator: `base` is its root (no /v1). */
export class SimClient {
  constructor(readonly base: string) {}

  static fromV1(url: string): SimClient {
    return new SimClient(url.replace(/\/v1\/?$/, ''));
  }

  async stats(): Promise<SimulatorStats> {
    const r = await fetch(`${this.base}/sim/stats`, { signal: AbortSignal.timeout(10_000) });
    return (await r.json()) as SimulatorStats;
  }

  /** Zeroes the resettable stats (not the prefix cache, not the Prometheus counters). */
  async reset(): Promise<void> {
    await fetch(`${this.base}/sim/reset`, { method: 'POST', body: '', signal: AbortSignal.timeout(10_000) });
  }

  async resetPrefixCache(): Promise<void> {
    await fetch(`${this.base}/reset_prefix_cache`, { method: 'POST', body: '', signal: AbortSignal.timeout(10_000) });
  }
}

export interface SpawnedSimulator {
  client: SimClient;
  /** `http://127.0.0.1:port/v1` */
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A simulator in its own process (as in startStack), so the driver does not share its event loop. */
export async function spawnSimulator(args: string[], logFile: string): Promise<SpawnedSimulator> {
  const child = spawn(process.execPath, [join(CODE_ROOT, 'dist/libs/testing/src/simulator/main.js'), '--port', '0', '--model', 'sim/llm-8b', ...args], {
    cwd: CODE_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  logChildOutput(child, logFile);
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`simulator not ready in 30 s: ${seen.slice(-500)}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      seen += c.toString();
      const m = /simulator listening on (\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited with ${code}: ${seen.slice(-500)}`));
    });
  });
  return { client: SimClient.fromV1(url), url, child, stop: () => stopChild(child) };
}
