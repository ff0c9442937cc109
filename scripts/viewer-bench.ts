import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { connectJetStream, natsSettings } from '@assay/messaging';
import { REPO_ROOT } from '@assay/testing';
import { comparisonUrl, entityUrl, groupUrl } from '@assay/viewer';
import { peakRssMb, stopChild } from './bench/proc';

/**
 * `npm run bench:viewer` (`npm run build && node dist/scripts/viewer-bench.js [--state FILE] [--port N] [--compare-with IDENTITY]`)
 *
 * The web viewer on a full-size run: a reporter of this build is started on the event log kept by
 * `node dist/scripts/report-bench.js fill --test-fraction 0.99` (583 x 72 prompts of the bench
 * workload, ~41K predictions), with cold caches. Then:
 *  - the registry, run, worst group, its worst entity and its first call are each opened once in
 *    a fresh headless Chromium context (first load, no HTTP cache): time to interactive
 *    (domInteractive of the navigation) and bytes transferred (document + scripts, styles and the
 *    images the first view loads), measured in the browser; each page is left once the network is
 *    idle, so one page's plots are not drawn during the next page's measurement;
 *  - with --compare-with (another completed run on the same data in that event log; or `second`
 *    in the state file), the comparison page of the two runs, opened twice: the first load runs
 *    the paired bootstrap, the second is answered from the reporter's kept comparisons;
 *  - every entity page of every group is fetched in turn, and the reporter's peak RSS (VmHWM) is
 *    read at the end.
 * Targets: interactive < 1 s, < ~1 MB per page, reporter RSS < 512 MB. A benchmark, not a test: it
 * prints numbers and PASS/MISS and exits 0 whatever they are.
 */

const DEFAULT_STATE = '/tmp/assay-report-bench.json';
const CHROMIUM = process.env.ASSAY_CHROMIUM ?? '/usr/bin/chromium';
const TARGET_MS = 1000;
const TARGET_BYTES = 1024 * 1024;
const TARGET_RSS_MB = 512;

interface State {
  databaseUrl: string;
  identity: string;
  /** A second completed run on the same data, for the comparison page. */
  second?: string;
}

async function startReporter(state: State, port: number, tag: string): Promise<ChildProcess> {
  const env = { ...process.env, DATABASE_URL: state.databaseUrl, ASSAY_STREAM: `ASSAY_${tag.toUpperCase()}`, ASSAY_SUBJECT_PREFIX: `${tag}.`, ASSAY_HTTP_PORT: String(port), NO_COLOR: '1' };
  const child = spawn(process.execPath, ['dist/services/reporter/src/main.js'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer) => {
      log += c.toString();
      if (/ready \(code/.test(log)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`reporter exited with ${code} before it was ready:\n${log.slice(-2000)}`)));
  });
  return child;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface TableJson {
  rows: Array<{ cells: string[] }>;
  pages: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { state: { type: 'string', default: DEFAULT_STATE }, port: { type: 'string', default: '38477' }, 'compare-with': { type: 'string' } } });
  const state = JSON.parse(readFileSync(values.state!, 'utf8')) as State;
  const tag = `viewerbench${process.pid}`;
  const port = Number(values.port);
  const base = `http://127.0.0.1:${port}`;
  const reporter = await startReporter(state, port, tag);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const run = await getJson<{ report: { groups: TableJson } }>(`${base}/experiments/${state.identity}.json`);
    // Page URLs come from the pages themselves: the worst group's link, its worst entity's, the first call's.
    const pages: Array<{ name: string; url: string; next?: string }> = [
      { name: 'registry', url: `${base}/experiments`, next: `a[href="/experiments/${state.identity}"]` },
      { name: 'run', url: '', next: '#groups tbody tr:first-child td.id a' },
      { name: 'group', url: '', next: 'table.data tbody tr:first-child td.id a' },
      { name: 'entity', url: '', next: 'table.data tbody tr:first-child td.id a' },
      { name: 'call', url: '' },
    ];
    const second = values['compare-with'] ?? state.second;
    if (second !== undefined) {
      const url = `${base}${comparisonUrl([state.identity, second])}`;
      pages.push({ name: 'compare', url }, { name: 'compare²', url });
    }
    const results: Array<{ page: string; interactiveMs: number; loadMs: number; bytes: number; requests: number }> = [];
    for (let i = 0; i < pages.length; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      // The first comparison runs the paired bootstrap before it answers: a generous timeout.
      // Until the network is idle: a page's images (the run page's plots, drawn on a worker thread)
      // finish before the next page is measured, so each page is timed on its own.
      const response = await page.goto(pages[i].url, { waitUntil: 'networkidle', timeout: 180_000 });
      if (!response?.ok()) throw new Error(`${pages[i].name} page ${pages[i].url}: ${response?.status()} ${await response?.text()}`);
      // Runs in the page (DOM types are not part of this Node build, hence the text).
      const timing = (await page.evaluate(`(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const resources = performance.getEntriesByType('resource');
        return {
          interactiveMs: nav.domInteractive - nav.startTime,
          loadMs: nav.loadEventEnd - nav.startTime,
          bytes: nav.transferSize + resources.reduce((n, r) => n + r.transferSize, 0),
          requests: 1 + resources.length,
        };
      })()`)) as { interactiveMs: number; loadMs: number; bytes: number; requests: number };
      results.push({ page: pages[i].name, ...timing });
      const selector = pages[i].next;
      if (selector) pages[i + 1].url = new URL((await page.locator(selector).first().getAttribute('href'))!, base).toString();
      await context.close();
    }
    // Every plot image on its own too (the run page loads them lazily, below its first view).
    const plotBytes: Record<string, number> = {};
    for (const name of ['confusion', 'scatter', 'distributions', 'metric-by-group']) {
      const res = await fetch(`${base}/experiments/${state.identity}/plots/${name}.svg`);
      plotBytes[name] = res.ok ? (await res.arrayBuffer()).byteLength : 0;
    }

    // Every entity page in turn, through every page of every group's entities.
    const began = performance.now();
    let entityPages = 0;
    let slowestMs = 0;
    for (const g of run.report.groups.rows) {
      const group = `${base}${groupUrl(state.identity, g.cells[0])}`;
      for (let p = 1; ; p++) {
        const t = await getJson<{ entities: TableJson }>(`${group}.json?page=${p}&size=500`);
        for (const e of t.entities.rows) {
          const t0 = performance.now();
          const res = await fetch(`${base}${entityUrl(state.identity, g.cells[0], e.cells[0])}`);
          if (!res.ok) throw new Error(`entity page ${e.cells[0]}: ${res.status}`);
          await res.arrayBuffer();
          slowestMs = Math.max(slowestMs, performance.now() - t0);
          entityPages++;
        }
        if (p >= t.entities.pages) break;
      }
    }
    const sweepS = (performance.now() - began) / 1000;
    const rss = peakRssMb(reporter.pid);

    console.log('page       interactive  load      transferred  requests');
    for (const r of results) console.log(`${r.page.padEnd(10)} ${r.interactiveMs.toFixed(0).padStart(8)} ms ${r.loadMs.toFixed(0).padStart(6)} ms ${(r.bytes / 1024).toFixed(1).padStart(9)} KB ${String(r.requests).padStart(6)}`);
    console.log(`plots (each its own image): ${Object.entries(plotBytes).map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KB`).join(', ')}`);
    console.log(`entity sweep: ${entityPages} entity pages in ${sweepS.toFixed(1)} s (mean ${((sweepS * 1000) / entityPages).toFixed(0)} ms, slowest ${slowestMs.toFixed(0)} ms); reporter peak RSS ${rss?.toFixed(0)} MB`);
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    console.log(`${verdict(results.every((r) => r.interactiveMs < TARGET_MS))} every page interactive < ${TARGET_MS} ms (first load)`);
    console.log(`${verdict(results.every((r) => r.bytes < TARGET_BYTES))} every page < 1 MB transferred`);
    console.log(`${verdict(rss !== null && rss < TARGET_RSS_MB)} reporter RSS < ${TARGET_RSS_MB} MB while every entity page is opened`);
    console.log(JSON.stringify({ pages: results, plotBytes, entityPages, sweepS, slowestEntityMs: slowestMs, reporterPeakRssMb: rss }));
  } finally {
    await browser.close();
    await stopChild(reporter);
    const settings = natsSettings({ ...process.env, ASSAY_STREAM: `ASSAY_${tag.toUpperCase()}`, ASSAY_SUBJECT_PREFIX: `${tag}.` });
    const nats = await connectJetStream(settings, 'assay-viewer-bench');
    try {
      await nats.jsm.streams.delete(settings.stream);
    } finally {
      await nats.nc.close();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
