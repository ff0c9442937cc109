import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PlotReply, PlotRequest } from './plot-worker';
import type { MetricByGroup, PlotName } from './plots';

/**
 * Draws the run page's plots on one worker thread, started on first use. A request fails with the
 * worker's error; a worker that dies fails what it had and is started again on the next request.
 */
export class PlotRenderer {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(svg: string | null): void; reject(error: Error): void }>();

  render(runDir: string, name: PlotName, byGroup: MetricByGroup[]): Promise<string | null> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, runDir, name, byGroup } satisfies PlotRequest);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private start(): Worker {
    // The compiled worker sits beside this file (dist/libs/viewer/src/plot-worker.js).
    const worker = new Worker(join(__dirname, 'plot-worker.js'));
    worker.unref();
    worker.on('message', (reply: PlotReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if ('error' in reply) waiting.reject(new Error(reply.error));
      else waiting.resolve(reply.svg);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const [id, waiting] of this.pending) {
        this.pending.delete(id);
        waiting.reject(error);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the plot worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
