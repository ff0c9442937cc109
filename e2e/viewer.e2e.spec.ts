import { parse } from 'csv-parse/sync';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { toCsv } from '@assay/data';
import { chromium, type Browser, type Page } from 'playwright-core';
import { holdModelCalls, modelCallHold, releaseModelCalls, REPO_ROOT, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

jest.setTimeout(240_000);

/**
 * The web viewer in a real headless Chromium (Debian's `chromium`, driven by playwright-core with
 * an explicit executable path; playwright never downloads a browser here). Screenshots of every
 * step land in e2e/artifacts/viewer/ (git-ignored) for a person to look at.
 */
const CHROMIUM = process.env.ASSAY_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'e2e', 'artifacts', 'viewer');

// Ids and texts that would run, break a path or become a formula if any page used them unescaped.
const PWN = 'window.__pwned=1';
const hostileEntity = (id: string) => `<script>${PWN}</script><img src=x onerror="${PWN}">${id}`;
const hostileGroup = (group: string) => `=HYPERLINK("http://evil.example","${group}")`;
const hostileItem = (item: string) => `../${item}`;

/** The sample data with every entity, group and item id made hostile, and markup in each question. */
function writeHostileData(dir: string): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const sample = join(REPO_ROOT, 'data', 'sample');
  const read = (name: string) => parse(readFileSync(join(sample, name), 'utf8'), { columns: true }) as Array<Record<string, string>>;
  const write = (name: string, rows: Array<Record<string, string>>) => writeFileSync(join(dir, name), toCsv(Object.keys(rows[0]), rows.map((row) => Object.values(row))));
  write('profiles.csv', read('profiles.csv').map((r) => ({ ...r, entity_id: hostileEntity(r.entity_id) })));
  write('responses.csv', read('responses.csv').map((r) => ({ ...r, entity_id: hostileEntity(r.entity_id), group: hostileGroup(r.group), item: hostileItem(r.item) })));
  write('items.csv', read('items.csv').map((r) => ({ ...r, group: hostileGroup(r.group), item: hostileItem(r.item), question: `${r.question} <script>${PWN}</script>` })));
  const split = JSON.parse(readFileSync(join(sample, 'split.json'), 'utf8')) as Record<string, unknown>;
  for (const key of ['train', 'test']) split[key] = (split[key] as string[]).map(hostileEntity);
  writeFileSync(join(dir, 'split.json'), JSON.stringify(split, null, 2));
  return { profiles: join(dir, 'profiles.csv'), responses: join(dir, 'responses.csv'), items: join(dir, 'items.csv'), split: join(dir, 'split.json') };
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** No script from the data ran: the flag its scripts would set is absent, and no dialog opened. */
async function expectNoDataScriptRan(page: Page): Promise<void> {
  expect(await page.evaluate('window.__pwned')).toBeUndefined();
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

describe('web viewer (reporter pages in headless Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  let data: Record<string, string>;
  /** The completed run of the first test, on the hostile data. */
  let hostileRun: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set ASSAY_CHROMIUM`);
    mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startStack({ workers: 1 });
    data = writeHostileData(join(stack.logDir, 'hostile-data'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('clicks from the registry to the worst group, its worst entity and one call; hostile ids stay inert text', async () => {
    const { path } = writeConfig(stack, 'viewer-hostile', { data });
    const run = await stack.cli(['run', path]);
    if (run.code !== 0) throw new Error(`assay run failed (${run.code}):\n${run.stderr.slice(-3000)}`);
    const identity = run.stdout.trim().split('\n').pop()!.split('/').pop()!;
    hostileRun = identity;

    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const base = `http://127.0.0.1:${stack.httpPort}`;

    // Registry: GET / redirects to it; the run is listed with its status and metric.
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/experiments');
    const row = page.locator('tr', { has: page.locator(`a:text-is("${identity}")`) });
    await expect(row.locator('.badge').textContent()).resolves.toBe('completed');
    expect(await row.locator('td.num').textContent()).toMatch(/^\d\.\d{4}/);
    await shot(page, '1-registry');
    await expectNoDataScriptRan(page);

    // Run page: key facts, review verdicts, groups worst first, links to the files, plots.
    await row.locator(`a:text-is("${identity}")`).click();
    await page.waitForURL(`**/experiments/${identity}`);
    expect(await page.locator('h1').textContent()).toContain('viewer-hostile');
    expect(await page.locator('ul.review li').count()).toBeGreaterThan(3);
    expect(await page.locator('p.overall').textContent()).toMatch(/^(PASS|WARN|FAIL) — /);
    expect(await page.locator('#files a', { hasText: 'README.txt' }).count()).toBe(1);
    expect(await page.locator('details summary', { hasText: 'KEY RESULTS' }).count()).toBe(1);
    const plots = page.locator('.plots img');
    expect(await plots.count()).toBeGreaterThanOrEqual(3);
    for (const img of await plots.all()) {
      await img.scrollIntoViewIfNeeded();
      await until(() => img.evaluate((el) => (el as unknown as { complete: boolean; naturalWidth: number }).complete && (el as unknown as { naturalWidth: number }).naturalWidth > 0), 'a plot drawn');
    }
    await shot(page, '2-run');
    await expectNoDataScriptRan(page);

    // Worst group: rank 1 of the groups table; its name is the hostile text, shown as text.
    const groupsTable = page.locator('#groups table.data');
    const worstGroupLink = groupsTable.locator('tbody tr').first().locator('td.id a');
    const worstGroup = (await worstGroupLink.textContent())!;
    expect(worstGroup).toMatch(/^=HYPERLINK\("http:\/\/evil\.example","study_\d"\)$/);
    await worstGroupLink.click();
    await page.waitForURL(/\/groups\/[a-z0-9_~-]+$/);
    expect(await page.locator('h1 q').textContent()).toBe(worstGroup);
    expect(await page.locator('table.facts').textContent()).toContain('1 of 3 groups, worst first');
    await shot(page, '3-group');
    await expectNoDataScriptRan(page);

    // Server-side status filter and sort keep the URL shareable.
    await page.goto(`${page.url()}?sort=entity_id&desc=1`);
    expect(await page.locator('th a.sorted.desc').textContent()).toBe('entity_id');
    await page.goBack();

    // Its worst entity: the id with markup shows as text.
    const worstEntityLink = page.locator('table.data tbody tr').first().locator('td.id a');
    const worstEntity = (await worstEntityLink.textContent())!;
    expect(worstEntity).toMatch(new RegExp(`^<script>window\\.__pwned=1</script><img src=x onerror="window\\.__pwned=1">p\\d{4}$`));
    await worstEntityLink.click();
    await page.waitForURL(/\/entities\/[a-z0-9_~-]+$/);
    expect(await page.locator('h1 q').first().textContent()).toBe(worstEntity);
    expect(await page.locator('table.facts').textContent()).toMatch(/1 of \d+ entities of the group, worst first/);
    const itemLinks = page.locator('table.data tbody td.id a');
    const items = await itemLinks.allTextContents();
    expect(items.length).toBe(4);
    for (const item of items) expect(item).toMatch(/^\.\.\/q\d$/);
    await shot(page, '4-entity');
    await expectNoDataScriptRan(page);

    // One call: INPUT with the question's markup as text, OUTPUT, METADATA; → steps to the next item.
    await itemLinks.first().click();
    await page.waitForURL(/\/items\/[a-z0-9_~-]+$/);
    const input = (await page.locator('pre.call.input').textContent())!;
    expect(input).toContain(`<script>${PWN}</script>`);
    expect(await page.locator('pre.call.output').textContent()).not.toBe('');
    const metadata = (await page.locator('table.meta').textContent())!;
    expect(metadata).toContain(`entity_id${worstEntity}`);
    expect(metadata).toContain(`item${items[0]}`);
    expect(await page.locator('nav.steps').textContent()).toContain(`item 1 of ${items.length}`);
    await shot(page, '5-call');
    await expectNoDataScriptRan(page);
    const first = page.url();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL((url) => url.toString() !== first);
    expect(await page.locator('nav.steps').textContent()).toContain(`item 2 of ${items.length}`);
    expect(await page.locator('table.meta').textContent()).toContain(`item${items[1]}`);
    await page.keyboard.press('ArrowLeft');
    await page.waitForURL(first);

    // The JSON twin of the call says the same, with the exact ids.
    const twin = (await (await page.request.get(`${first}.json`)).json()) as { entityId: string; item: string; group: string };
    expect(twin).toMatchObject({ entityId: worstEntity, item: items[0], group: worstGroup });

    // Diagnostics pages answer, inert.
    for (const kind of ['parse-failures', 'outliers', 'value-ranges']) {
      const response = await page.goto(`${base}/experiments/${identity}/diagnostics/${kind}`);
      expect(response?.status()).toBe(200);
      await expectNoDataScriptRan(page);
    }
    await shot(page, '6-value-ranges');
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('ticks two runs on the registry and opens their comparison: ranking, paired deltas worst first with CIs, hostile ids inert', async () => {
    expect(hostileRun).toBeDefined();
    const { path } = writeConfig(stack, 'viewer-hostile-terse', { data, prompt: { system: 'Answer as the respondent profiled below would, with one number and nothing else.' } });
    const second = await stack.cli(['run', path]);
    if (second.code !== 0) throw new Error(`assay run failed (${second.code}):\n${second.stderr.slice(-3000)}`);
    const other = second.stdout.trim().split('\n').pop()!.split('/').pop()!;
    const base = `http://127.0.0.1:${stack.httpPort}`;

    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${base}/experiments?status=completed`);
    await page.locator(`input[type=checkbox][name=run][value="${hostileRun}"]`).check();
    await page.locator(`input[type=checkbox][name=run][value="${other}"]`).check();
    await shot(page, '9-registry-ticked');
    await page.locator('form#compare button[type=submit]').click();
    await page.waitForURL(/\/comparisons\?/);
    const url = new URL(page.url());
    expect(url.pathname).toBe('/comparisons');
    expect(url.searchParams.getAll('run').sort()).toEqual([hostileRun, other].sort());

    expect(await page.locator('h1').textContent()).toMatch(/^Comparison of 2 runs/);
    expect(await page.locator('p.paired').textContent()).toMatch(/^Paired: same data and split; \d+ test entities, 12 items/);
    const ranking = await page.locator('#ranking tbody tr td.id a').allTextContents();
    expect(ranking.sort()).toEqual([hostileRun, other].sort());
    expect(await page.locator('#ranking tbody tr').first().locator('td.num').first().textContent()).toMatch(/^\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]$/);
    const pair = page.locator('#pairs tbody tr');
    expect(await pair.count()).toBe(1);
    expect(await pair.locator('td.num').first().textContent()).toMatch(/^[+-]\d\.\d{4} (\[-?\d\.\d{4}, -?\d\.\d{4}\]|no interval)$/);
    // Groups: the hostile names as text, worst (largest delta) first, each linking to the candidate's group page.
    const groupNames = await page.locator('#by-group tbody td.id a').allTextContents();
    expect(groupNames).toHaveLength(3);
    for (const g of groupNames) expect(g).toMatch(/^=HYPERLINK\("http:\/\/evil\.example","study_\d"\)$/);
    const groupDeltas = (await page.locator('#by-group tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { cells: Array<{ textContent: string }> }).cells[5].textContent)))
      .map((t) => Number(t.split(' ')[0]));
    expect(groupDeltas).toEqual([...groupDeltas].sort((a, b) => b - a));
    const entities = await page.locator('#by-entity tbody td.id').allTextContents();
    expect(entities.length).toBeGreaterThan(0);
    for (const e of entities) expect(e).toMatch(/^<script>window\.__pwned=1<\/script><img src=x onerror="window\.__pwned=1">p\d{4}$/);
    expect(await page.locator('#config tbody th').allTextContents()).toContain('prompt.system');
    await shot(page, '10-comparison');
    await expectNoDataScriptRan(page);

    // The JSON twin says the same.
    const twin = (await (await page.request.get(`${base}/comparisons.json${url.search}`)).json()) as { paired: boolean; runs: Array<{ identity: string }>; pairs: unknown[] };
    expect(twin.paired).toBe(true);
    expect(twin.runs.map((r) => r.identity).sort()).toEqual([hostileRun, other].sort());
    expect(twin.pairs).toHaveLength(1);

    // Bad input: an error page naming what is wrong, 4xx, inert.
    const unknown = await page.goto(`${base}/comparisons?run=${hostileRun}&run=ffffffff_abc`);
    expect(unknown?.status()).toBe(404);
    expect(await page.locator('p.failure').textContent()).toBe("cannot compare: no experiment with identity 'ffffffff_abc' in the event log");
    const single = await page.goto(`${base}/comparisons?run=${hostileRun}`);
    expect(single?.status()).toBe(400);
    expect(await page.locator('p.failure').textContent()).toContain(`at least two runs (?run=<identity>&run=<identity>), got 1 (${hostileRun})`);
    const hostile = await page.goto(`${base}/comparisons?run=${hostileRun}&run=${encodeURIComponent(`<script>${PWN}</script>`)}`);
    expect(hostile?.status()).toBe(400);
    expect(await page.locator('p.failure').textContent()).toContain(`run "<script>${PWN}</script>": identity must be`);
    await expectNoDataScriptRan(page);
    const twice = await page.request.get(`${base}/comparisons.json?run=${hostileRun}&run=${hostileRun}`);
    expect(twice.status()).toBe(400);
    expect(((await twice.json()) as { message: string }).message).toBe(`cannot compare: ${hostileRun} is named twice`);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('compresses pages, JSON and assets (brotli or gzip as asked), but not the server-sent events', async () => {
    const get = (path: string, encoding: string) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders; first: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: stack.httpPort, path, headers: { 'accept-encoding': encoding } }, (res) => {
          // The first chunk is enough: an event stream never ends.
          res.once('data', (chunk: Buffer) => {
            resolve({ status: res.statusCode!, headers: res.headers, first: chunk.toString('latin1') });
            req.destroy();
          });
        });
        req.on('error', reject);
        // A compressor holding the stream's first bytes would show up here, not as a hang.
        req.setTimeout(10_000, () => reject(new Error(`no bytes of ${path} within 10 s`)));
        req.end();
      });
    // Bodies of 1 KB and more (compression's threshold): the registry's JSON may still be smaller here.
    const pages = [['/experiments', 'text/html'], [`/experiments/${hostileRun}.json`, 'application/json'], ['/viewer/assets/viewer.js', 'javascript'], ['/viewer/assets/viewer.css', 'text/css']];
    for (const [path, type] of pages) {
      const br = await get(path, 'br, gzip');
      expect(br.status).toBe(200);
      expect(br.headers['content-type']).toContain(type);
      expect(br.headers['content-encoding']).toBe('br');
      expect((await get(path, 'gzip')).headers['content-encoding']).toBe('gzip');
      expect((await get(path, 'identity')).headers['content-encoding']).toBeUndefined();
    }
    // The event stream opens uncompressed and its first bytes arrive at once (progress is pushed
    // as it happens; the live test below checks the updates reach the page).
    const live = await get('/viewer/live', 'br, gzip');
    expect(live.status).toBe(200);
    expect(live.headers['content-type']).toContain('text/event-stream');
    expect(live.headers['content-encoding']).toBeUndefined();
    expect(live.first).toBe('\n');
  });

  it('shows live progress of a running experiment, pushed by server-sent events, without reloading', async () => {
    const { path } = writeConfig(stack, 'viewer-live');
    // Every model call waits until released: the run is surely running while the page opens.
    await holdModelCalls(stack, 0);
    const cli = stack.cliLive(['run', path]);
    try {
      await cli.waitFor(/started (\S+) attempt 1/);
      const identity = /started (\S+) attempt 1/.exec(cli.stderr())![1];
      await until(async () => (await modelCallHold(stack)).held >= 1, 'a model call held');

      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${stack.httpPort}/experiments?status=running`);
      const cell = page.locator(`.live[data-identity="${identity}"]`);
      expect(await cell.count()).toBe(1);
      expect(await page.locator('tr', { has: cell }).locator('.badge').textContent()).toBe('running');
      await shot(page, '7-live-held');
      // A mark on this document: it is gone if the page reloads.
      await page.evaluate('window.__samePage = true');

      expect(await releaseModelCalls(stack)).toBeGreaterThanOrEqual(1);
      // Progress arrives as the prompts complete; then the end of the run, all in the same document.
      // Locators, not page functions: the pages' Content-Security-Policy forbids evaluating text.
      const live = `.live[data-identity="${identity}"]`;
      await page.locator(`${live}[data-done]:not([data-done="0"])`).waitFor({ timeout: 120_000 });
      expect(await cell.locator('.line').textContent()).toMatch(/\[(smoke|full)\] \d+\/\d+|ended/);
      await page.locator(`${live}[data-ended="experiment.completed"]`).waitFor({ timeout: 120_000 });
      expect(await page.evaluate('window.__samePage')).toBe(true);
      await shot(page, '8-live-ended');
      expect((await cli.done).code).toBe(0);

      await page.reload();
      expect(await page.locator(`.live[data-identity="${identity}"]`).count()).toBe(0);
      await page.goto(`http://127.0.0.1:${stack.httpPort}/experiments?status=completed&q=viewer-live`);
      expect(await page.locator('tr[data-status="completed"] td.id a').allTextContents()).toEqual([identity]);
      await page.close();
    } finally {
      await releaseModelCalls(stack);
      await cli.done;
    }
  });
});
