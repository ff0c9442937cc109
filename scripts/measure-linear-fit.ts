import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ItemDef, Sample } from '../libs/contracts/src';
import { mulberry32 } from '../libs/data/src';
import { fitLinear, fitLinearYielding, type FeatureTable } from '../libs/evaluation/src';

/**
 * How long the linear baseline's fit blocks the event loop, on a workload the size of the real
 * one (589 entities, 250 features, 72 items of which 24 binary; 80% train): the synchronous fit
 * (one block) against the fit a baseline method runs (yielding between items). Prints the total
 * time and the longest event-loop stall of each. Usage: node dist/scripts/measure-linear-fit.js
 */
async function main(): Promise<void> {
  const { train, items, features } = mulberry32Features({ entities: 589, features: 250, items: 72, binaryItems: 24, trainShare: 0.8, seed: 7 });
  const measure = async (label: string, run: () => Promise<unknown>) => {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    // A timer that must keep firing: its worst lateness is the longest stall.
    let worstGapMs = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
    }, 10);
    delay.enable();
    const t0 = performance.now();
    await run();
    const total = performance.now() - t0;
    // Let the timer see the end of a block that ended just now.
    await new Promise((resolve) => setTimeout(resolve, 30));
    delay.disable();
    clearInterval(tick);
    process.stdout.write(`${label}: total ${(total / 1000).toFixed(2)} s, longest event-loop stall ${(Math.max(worstGapMs, delay.max / 1e6) / 1000).toFixed(3)} s\n`);
  };
  const data: { trainSamples: Sample[]; items: ItemDef[]; features: typeof features } = { trainSamples: train, items, features };
  await measure('fitLinear (synchronous)', async () => fitLinear(data));
  await measure('baseline_linear fit (fitLinearYielding)', () => fitLinearYielding(data));
}

/** A seeded synthetic workload: numeric features, answers linear in a few of them plus noise. */
export function mulberry32Features(o: { entities: number; features: number; items: number; binaryItems: number; trainShare: number; seed: number }): { train: Sample[]; items: ItemDef[]; features: FeatureTable } {
  const random = mulberry32(o.seed);
  const ids = Array.from({ length: o.entities }, (_, i) => `e${String(i).padStart(4, '0')}`);
  const names = Array.from({ length: o.features }, (_, j) => `f${j}`);
  const features = new Map(ids.map((id) => [id, { featureNames: names, values: names.map(() => (random() * 10).toFixed(3)) }]));
  const items: ItemDef[] = Array.from({ length: o.items }, (_, i) => ({ group: 'g', item: `q${i}`, question: '', min: i < o.binaryItems ? 0 : 1, max: i < o.binaryItems ? 1 : 5, kind: i < o.binaryItems ? 'binary' : 'ordinal' }));
  const trainIds = ids.slice(0, Math.round(o.entities * o.trainShare));
  const train: Sample[] = [];
  for (const id of trainIds) {
    const f = features.get(id)!.values.map(Number);
    items.forEach((item, i) => {
      const score = f[i % o.features] - f[(i * 7 + 3) % o.features] + (random() - 0.5) * 6;
      const actual = item.kind === 'binary' ? (score > 0 ? 1 : 0) : Math.min(5, Math.max(1, Math.round(3 + score / 3)));
      train.push({ entityId: id, group: item.group, item: item.item, actual });
    });
  }
  return { train, items, features };
}

void main();
