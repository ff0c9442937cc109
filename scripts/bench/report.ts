/** Table rows and target checks for the benchmark; plain markdown, readable in a terminal too. */

export interface Row {
  id: string;
  what: string;
  prompts: number | null;
  /** Prompts the scenario would have sent uncapped (driver scenarios stop early). */
  ofPrompts: number | null;
  wallS: number | null;
  /** End to end: prompts / wall. */
  rate: number | null;
  /** Inference phase only: prompts / (full run planned -> last batch committed); the whole run for driver rows. */
  inferRate: number | null;
  hit: number | null;
  ideal: number | null;
  busy: number | null;
  /** Mean running requests / max_num_seqs (GPU-like simulator only). */
  slots: number | null;
  rss: string;
  reportS: number | null;
  replayS: number | null;
  note: string;
}

export interface Target {
  name: string;
  pass: boolean | null;
  detail: string;
}

const fixed = (v: number | null | undefined, d: number): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const pct = (v: number | null | undefined, d = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(d)}%`);

export function rowTable(rows: Row[]): string {
  const head = ['scenario', 'prompts', 'wall s', 'prompts/s end to end', 'prompts/s inference phase', 'hit rate', 'ideal', '% of ideal', 'sim busy', 'slots used', 'peak RSS MB (planner/worker max/evaluator/reporter; sim)', 'tree s', 'replay s', 'note'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const prompts = r.prompts === null ? '–' : r.ofPrompts !== null && r.ofPrompts !== r.prompts ? `${r.prompts} of ${r.ofPrompts}` : String(r.prompts);
    const ofIdeal = r.hit !== null && r.ideal ? r.hit / r.ideal : null;
    const note = r.note.replace(/\s+/g, ' ').replace(/\|/g, '/').slice(0, 200);
    lines.push(
      `| ${[`${r.id} ${r.what}`, prompts, fixed(r.wallS, 1), fixed(r.rate, 0), fixed(r.inferRate, 0), pct(r.hit), pct(r.ideal), pct(ofIdeal), pct(r.busy, 0), pct(r.slots, 0), r.rss, fixed(r.reportS, 1), fixed(r.replayS, 1), note].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

export function targetLines(targets: Target[]): string {
  return targets.map((t) => `- ${t.pass === null ? 'N/A ' : t.pass ? 'PASS' : 'MISS'} ${t.name}: ${t.detail}`).join('\n');
}

export { fixed, pct };
