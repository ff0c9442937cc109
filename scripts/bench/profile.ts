import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * `--profile`: the stack's processes run with `--cpu-prof` (through NODE_OPTIONS, which
 * startStack passes on), and each profile is summed up here by self time per function, so a
 * bottleneck is named by function and file rather than guessed. Profiling slows everything a
 * little: use it to attribute time, not for the table's numbers.
 */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  process: string;
  totalS: number;
  /** Share of sampled time that was not idle/GC/program. */
  top: Array<{ fn: string; selfS: number; share: number }>;
}

function frameName(cf: CpuProfile['nodes'][number]['callFrame']): string {
  const fn = cf.functionName || '(anonymous)';
  if (!cf.url) return fn;
  const url = cf.url.replace(/^file:\/\//, '');
  const m = /(?:node_modules\/((?:@[^/]+\/)?[^/]+)|\/dist\/(.*))$/.exec(url);
  const where = m ? (m[1] ? m[1] : m[2]) : basename(url);
  return `${fn} (${where}:${cf.lineNumber + 1})`;
}

/**
 * Self time per function over `files`: one process's profiles, its main thread's and one per
 * worker thread it started (the reporter's file writer and spools), summed.
 */
export function summarize(files: readonly string[], processName: string, topN = 8): ProfileSummary {
  const self = new Map<string, number>();
  for (const file of files) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const node = byId.get(p.samples[i]);
      const dt = p.timeDeltas[i + 1] ?? 0;
      if (!node) continue;
      const name = frameName(node.callFrame);
      self.set(name, (self.get(name) ?? 0) + dt);
    }
  }
  const busy = [...self.entries()].filter(([name]) => !/^\((idle|program)\)/.test(name));
  busy.sort((a, b) => b[1] - a[1]);
  const busyTotal = busy.reduce((a, [, v]) => a + v, 0);
  return {
    process: processName,
    totalS: busyTotal / 1e6,
    top: busy.slice(0, topN).map(([fn, us]) => ({ fn, selfS: us / 1e6, share: busyTotal ? us / busyTotal : 0 })),
  };
}

/** Profiles in `dir` of the given processes (by pid, every thread's), largest busy time first. */
export function summarizeDir(dir: string, pids: Map<string, number | undefined>): ProfileSummary[] {
  if (!existsSync(dir)) return [];
  // Node names them CPU.<time>.<pid>.<thread>.<seq>.cpuprofile.
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const out: ProfileSummary[] = [];
  for (const [name, pid] of pids) {
    const ofProcess = files.filter((f) => f.split('.')[2] === String(pid));
    if (ofProcess.length > 0) out.push(summarize(ofProcess.map((f) => join(dir, f)), name));
  }
  return out.sort((a, b) => b.totalS - a.totalS);
}

export function profileMarkdown(scenario: string, summaries: ProfileSummary[]): string {
  const lines = [`CPU profile of ${scenario} (self time, all of a process's threads; whole process life, run + replay):`, ''];
  for (const s of summaries) {
    lines.push(`- ${s.process}: ${s.totalS.toFixed(1)} s busy; top: ${s.top.map((t) => `${t.fn} ${t.selfS.toFixed(1)} s (${(t.share * 100).toFixed(0)}%)`).join('; ')}`);
  }
  return lines.join('\n');
}
