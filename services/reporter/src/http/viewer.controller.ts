import { Controller, Get, type OnModuleDestroy, HttpException, Logger, NotFoundException, BadRequestException, Param, Redirect, Req, Res, Sse, type MessageEvent } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { experimentStream, errorMessage } from '@assay/contracts';
import { EventStore, readTypedEvents } from '@assay/event-store';
import { entryFromStream, REGISTRY_EVENT_TYPES, type RegistryEntry } from '@assay/experiments';
import { encodePathSegment, RunDirectoryReader, type TextTable } from '@assay/report';
import {
  DIAGNOSTICS_KINDS,
  escapeHtml,
  renderError,
  keyFacts,
  neighbours,
  parseRegistryFilters,
  parseReview,
  parseTableQuery,
  primaryMetric,
  QueryError,
  queryTable,
  recordOf,
  registryModel,
  renderCall,
  renderDiagnostics,
  renderEntity,
  renderGroup,
  renderRegistry,
  renderRun,
  RUN_FILES,
  valueRangesTable,
  JSON_SUFFIX,
  availablePlots,
  comparisonModel,
  parseComparisonQuery,
  renderComparison,
  PlotRenderer,
  plotUrl,
  PLOT_NAMES,
  type MetricByGroup,
  type PlotName,
  type CallModel,
  type DiagnosticsKind,
  type DiagnosticsModel,
  type EntityModel,
  type GroupModel,
  type RunModel,
  type SideBySideRow,
} from '@assay/viewer';
import { Observable } from 'rxjs';
import { ComparisonRefusedError } from '@assay/comparison';
import { ComparisonBuilder } from '../comparison-builder';
import { ReportBuilder, UnknownExperimentError } from '../report-builder';
import { identityProblem } from './identity';
import { LiveProgressHub } from './live-progress';
import { viewerAsset } from './viewer-assets';

interface HttpRequest {
  query: Record<string, unknown>;
}
interface HttpResponse {
  status(code: number): HttpResponse;
  setHeader(name: string, value: string): void;
  send(body: string | Buffer): void;
}

/**
 * Pages are documents of data, never of scripts: only the reporter's own script and style run,
 * nothing inline, nothing from elsewhere; a hostile id that slipped through escaping could not run.
 */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

type Answer = { model: unknown; render: () => string };

/** `name.json` -> { name, json: true }; an encoded segment never holds a '.', an identity's code version could, so only a trailing '.json' counts. */
function splitFormat(segment: string): { value: string; json: boolean } {
  return segment.endsWith(JSON_SUFFIX) ? { value: segment.slice(0, -JSON_SUFFIX.length), json: true } : { value: segment, json: false };
}

function column(table: TextTable, name: string, file: string): number {
  const at = table.columns.indexOf(name);
  if (at < 0) throw new Error(`${file} has no '${name}' column (columns: ${table.columns.join(', ')})`);
  return at;
}

/** The item kinds of a run, from the kind-prefixed metric columns of groups/_index.csv (binary.accuracy, ...). */
function kindsOf(groups: TextTable): Set<string> {
  return new Set(groups.columns.filter((c) => c.includes('.') && !c.startsWith('baseline.')).map((c) => c.slice(0, c.indexOf('.'))));
}

/** The id whose encoded path segment is `segment` among a table's ids (long ids are hash-shortened, so they are matched, not decoded). */
function resolveSegment(ids: Iterable<string>, segment: string): string | null {
  for (const id of ids) if (encodePathSegment(id) === segment) return id;
  return null;
}

/**
 * The web viewer: server-rendered pages over the registry and the run directories, each with a
 * JSON twin (the same URL with '.json'). Read-only: the data comes from the event log (named
 * queries of libs/event-store, folded as the HTTP API does) and from the run directory's files
 * (libs/report's reader); rendering is libs/viewer. Sorting, filtering and paging happen here,
 * so a page holds one page of rows however large the run.
 */
@ApiExcludeController()
@Controller()
export class ViewerController implements OnModuleDestroy {
  private readonly logger = new Logger('viewer');
  private readonly reader = new RunDirectoryReader();
  private readonly plots = new PlotRenderer();

  constructor(
    private readonly builder: ReportBuilder,
    private readonly store: EventStore,
    private readonly live: LiveProgressHub,
    private readonly comparisons: ComparisonBuilder,
  ) {}

  async onModuleDestroy(): Promise<void> {
    await this.plots.close();
  }

  @Get()
  @Redirect('/experiments', 302)
  root(): void {}

  @Get('viewer/assets/:name')
  async asset(@Param('name') name: string, @Res() res: HttpResponse): Promise<void> {
    const asset = await viewerAsset(name);
    if (!asset) {
      res.status(404).send(`no viewer asset '${escapeHtml(name)}'`);
      return;
    }
    res.setHeader('Content-Type', asset.type);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.status(200).send(asset.bytes);
  }

  /** Server-sent events: progress of running attempts, and their starts and ends. */
  @Sse('viewer/live')
  liveProgress(): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => this.live.subscribe((m) => subscriber.next({ type: m.type, data: m.data })));
  }

  @Get('experiments')
  async registryPage(@Req() req: HttpRequest, @Res() res: HttpResponse): Promise<void> {
    await this.answer(res, false, () => this.registry(req.query));
  }

  @Get('experiments.json')
  async registryJson(@Req() req: HttpRequest, @Res() res: HttpResponse): Promise<void> {
    await this.answer(res, true, () => this.registry(req.query));
  }

  /** Two or more runs side by side: `?run=<identity>&run=<identity>[&unpaired=1]`. */
  @Get('comparisons')
  async comparisonPage(@Req() req: HttpRequest, @Res() res: HttpResponse): Promise<void> {
    await this.answer(res, false, () => this.comparison(req.query));
  }

  @Get('comparisons.json')
  async comparisonJson(@Req() req: HttpRequest, @Res() res: HttpResponse): Promise<void> {
    await this.answer(res, true, () => this.comparison(req.query));
  }

  @Get('experiments/:identity')
  async runPage(@Param('identity') segment: string, @Req() req: HttpRequest, @Res() res: HttpResponse): Promise<void> {
    const { value, json } = splitFormat(segment);
    await this.answer(res, json, () => this.run(value, req.query));
  }

  @Get('experiments/:identity/groups/:group')
  async groupPage(@Param('identity') identity: string, @Param('group') segment: string, @Req() req: HttpRequest, @Res() res: HttpResponse): Promise<void> {
    const { value, json } = splitFormat(segment);
    await this.answer(res, json, () => this.group(identity, value, req.query));
  }

  @Get('experiments/:identity/groups/:group/entities/:entity')
  async entityPage(
    @Param('identity') identity: string,
    @Param('group') group: string,
    @Param('entity') segment: string,
    @Req() req: HttpRequest,
    @Res() res: HttpResponse,
  ): Promise<void> {
    const { value, json } = splitFormat(segment);
    await this.answer(res, json, () => this.entity(identity, group, value, req.query));
  }

  @Get('experiments/:identity/groups/:group/entities/:entity/items/:item')
  async callPage(
    @Param('identity') identity: string,
    @Param('group') group: string,
    @Param('entity') entity: string,
    @Param('item') segment: string,
    @Res() res: HttpResponse,
  ): Promise<void> {
    const { value, json } = splitFormat(segment);
    await this.answer(res, json, () => this.call(identity, group, entity, value));
  }

  @Get('experiments/:identity/diagnostics/:kind')
  async diagnosticsPage(@Param('identity') identity: string, @Param('kind') segment: string, @Req() req: HttpRequest, @Res() res: HttpResponse): Promise<void> {
    const { value, json } = splitFormat(segment);
    await this.answer(res, json, () => this.diagnostics(identity, value, req.query));
  }

  /** A plot of the run page, rendered once per version of the run directory. */
  @Get('experiments/:identity/plots/:name')
  async plot(@Param('identity') identity: string, @Param('name') file: string, @Res() res: HttpResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    try {
      const name = file.replace(/\.svg$/, '');
      if (!file.endsWith('.svg') || !(PLOT_NAMES as readonly string[]).includes(name)) throw new NotFoundException(`no plot '${file}' (there are ${PLOT_NAMES.map((n) => `${n}.svg`).join(', ')})`);
      const d = await this.detail(identity);
      const svg = await this.reader.derived(d.runDir, `plot:${name}`, async () => {
        const metrics = await this.reader.json(d.runDir, 'metrics.json');
        const byGroup = ((metrics as { sideBySide?: { byGroup?: MetricByGroup[] } } | null)?.sideBySide?.byGroup ?? []) as MetricByGroup[];
        return this.plots.render(d.runDir, name as PlotName, byGroup);
      });
      if (!svg) throw new NotFoundException(`${identity} has nothing to draw in '${file}'`);
      // An image, never a document: no script runs in it even if opened on its own.
      res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
      res.setHeader('Content-Type', 'image/svg+xml; charset=utf-8');
      res.setHeader('Cache-Control', 'no-cache');
      res.status(200).send(svg);
    } catch (error) {
      const status = error instanceof HttpException ? error.getStatus() : 500;
      if (status === 500) this.logger.error(`plot ${file} of ${identity} failed: ${errorMessage(error)}`);
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.status(status).send(error instanceof HttpException ? error.message : `the plot could not be drawn: ${errorMessage(error)}`);
    }
  }

  /** HTML or its JSON twin; a bad request or a missing thing is a page saying so (or JSON for the twin). */
  private async answer(res: HttpResponse, json: boolean, build: () => Promise<Answer>): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    let status = 200;
    let body: string;
    try {
      const answer = await build();
      body = json ? JSON.stringify(answer.model) : answer.render();
    } catch (error) {
      const known = error instanceof QueryError ? new BadRequestException(error.message) : error;
      if (!(known instanceof HttpException)) this.logger.error(`viewer page failed: ${errorMessage(error)}`);
      status = known instanceof HttpException ? known.getStatus() : 500;
      const message = known instanceof HttpException ? known.message : `the page could not be built: ${errorMessage(error)}`;
      body = json ? JSON.stringify({ statusCode: status, message }) : renderError(status, message);
    }
    res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8');
    if (!json) res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.status(status).send(body);
  }

  private async registry(query: Record<string, unknown>): Promise<Answer> {
    const filters = parseRegistryFilters(query);
    const entries = await this.builder.registry();
    const progress = await this.live.snapshot(entries);
    const model = registryModel(entries, filters, progress);
    return { model, render: () => renderRegistry(model) };
  }

  private async comparison(query: Record<string, unknown>): Promise<Answer> {
    const q = parseComparisonQuery(query);
    for (const identity of q.runs) {
      const problem = identityProblem(identity);
      if (problem) throw new BadRequestException(`run ${JSON.stringify(identity)}: ${problem}`);
    }
    try {
      const { comparison, entries } = await this.comparisons.compare(q.runs, q.unpaired);
      const model = comparisonModel(comparison, q, new Map(entries.map((e) => [e.identity, e.name])));
      return { model, render: () => renderComparison(model) };
    } catch (error) {
      if (error instanceof UnknownExperimentError) throw new NotFoundException(`cannot compare: ${error.message}`);
      if (error instanceof ComparisonRefusedError) throw new BadRequestException(`cannot compare: ${error.message}`);
      throw error;
    }
  }

  /** A page needs the run's registry entry only (not the detail's evaluations and config): the registry's events of one stream. */
  private async detail(identity: string): Promise<RegistryEntry> {
    const problem = identityProblem(identity);
    if (problem) throw new BadRequestException(problem);
    const events = await this.store.read((sql) => readTypedEvents(sql, experimentStream(identity), REGISTRY_EVENT_TYPES));
    const detail = entryFromStream(events, identity);
    if (!detail) throw new NotFoundException(`no experiment with identity '${identity}' in the event log`);
    return detail;
  }

  private async run(identity: string, query: Record<string, unknown>): Promise<Answer> {
    const d = await this.detail(identity);
    const groupsQuery = parseTableQuery(query);
    const progress = d.status === 'running' ? ((await this.live.snapshot([d])).get(identity) ?? null) : null;
    const groups = await this.reader.groups(d.runDir);
    let report: RunModel['report'] = null;
    if (groups) {
      const [readme, review, metrics] = await Promise.all([this.reader.text(d.runDir, 'README.txt'), this.reader.text(d.runDir, 'review.txt'), this.reader.json(d.runDir, 'metrics.json')]);
      const sideBySide = ((metrics as { sideBySide?: { overall?: SideBySideRow[] } } | null)?.sideBySide?.overall ?? []) as SideBySideRow[];
      const files = (await Promise.all(RUN_FILES.map(async (f) => ((await this.reader.exists(d.runDir, f)) ? f : null)))).filter((f): f is string => f !== null);
      report = { keyFacts: readme ? keyFacts(readme) : [], review: review ? parseReview(review) : null, sideBySide, groups: queryTable(groups, groupsQuery), files };
    }
    const model: RunModel = {
      identity: d.identity,
      name: d.name,
      method: d.method,
      status: d.status,
      attempt: d.attempt,
      startedAt: d.startedAt,
      finishedAt: d.finishedAt,
      failure: d.failure,
      cancellation: d.cancellation,
      primary: primaryMetric(d.summary),
      progress,
      runDir: d.runDir,
      report,
      plots: groups ? availablePlots(kindsOf(groups)).map((p) => ({ title: p.title, url: plotUrl(identity, p.name) })) : [],
    };
    return { model, render: () => renderRun(model) };
  }

  /** The run directory of a reported run and its group (resolved from groups/_index.csv). */
  private async findGroup(identity: string, segment: string): Promise<{ runDir: string; group: string; groups: TextTable; row: number }> {
    const d = await this.detail(identity);
    const groups = await this.reader.groups(d.runDir);
    if (!groups) throw new NotFoundException(`${identity} has no report yet (status ${d.status})`);
    const at = column(groups, 'group', 'groups/_index.csv');
    const group = resolveSegment(groups.rows.map((r) => r[at]), segment);
    if (group === null) throw new NotFoundException(`${identity} has no group with path segment '${segment}'`);
    return { runDir: d.runDir, group, groups, row: groups.rows.findIndex((r) => r[at] === group) };
  }

  private async group(identity: string, segment: string, query: Record<string, unknown>): Promise<Answer> {
    const tableQuery = parseTableQuery(query);
    const g = await this.findGroup(identity, segment);
    const entities = await this.reader.entities(g.runDir, g.group);
    if (!entities) throw new NotFoundException(`${identity}: group '${g.group}' has no per_entity.csv`);
    const model: GroupModel = {
      identity,
      group: g.group,
      summary: recordOf(g.groups.columns, g.groups.rows[g.row]),
      rank: { position: g.row + 1, of: g.groups.rows.length },
      entities: queryTable(entities, tableQuery),
    };
    // The next click is one of these entities: read the group's predictions ahead, after this answer.
    setImmediate(() => void this.reader.groupPredictions(g.runDir, g.group).catch((error: unknown) => this.logger.warn(`reading ahead ${g.group}: ${errorMessage(error)}`)));
    return { model, render: () => renderGroup(model) };
  }

  private async findEntity(identity: string, groupSegment: string, segment: string) {
    const g = await this.findGroup(identity, groupSegment);
    const [entities, predictions] = await Promise.all([this.reader.entities(g.runDir, g.group), this.reader.groupPredictions(g.runDir, g.group)]);
    if (!entities || !predictions) throw new NotFoundException(`${identity}: group '${g.group}' has no per_entity.csv or predictions.csv`);
    const idAt = column(entities, 'entity_id', 'per_entity.csv');
    const entityId = resolveSegment(entities.rows.map((r) => r[idAt]), segment);
    if (entityId === null) throw new NotFoundException(`${identity}: group '${g.group}' has no entity with path segment '${segment}'`);
    const row = entities.rows.findIndex((r) => r[idAt] === entityId);
    return { ...g, entityId, entities, entityRow: row, predictions, entityAt: column(predictions, 'entity_id', 'predictions.csv'), itemAt: column(predictions, 'item', 'predictions.csv') };
  }

  private async entity(identity: string, groupSegment: string, segment: string, query: Record<string, unknown>): Promise<Answer> {
    const tableQuery = parseTableQuery(query);
    const e = await this.findEntity(identity, groupSegment, segment);
    const model: EntityModel = {
      identity,
      group: e.group,
      entityId: e.entityId,
      summary: recordOf(e.entities.columns, e.entities.rows[e.entityRow]),
      rank: { position: e.entityRow + 1, of: e.entities.rows.length },
      items: queryTable(e.predictions, tableQuery, (cells) => cells[e.entityAt] === e.entityId),
    };
    return { model, render: () => renderEntity(model) };
  }

  private async call(identity: string, groupSegment: string, entitySegment: string, segment: string): Promise<Answer> {
    const e = await this.findEntity(identity, groupSegment, entitySegment);
    const items = e.predictions.rows.filter((r) => r[e.entityAt] === e.entityId).map((r) => r[e.itemAt]);
    const item = resolveSegment(items, segment);
    if (item === null) throw new NotFoundException(`${identity}: entity '${e.entityId}' of group '${e.group}' has no item with path segment '${segment}'`);
    const record = await this.reader.call(e.runDir, e.group, e.entityId, item);
    if (!record) throw new NotFoundException(`${identity}: no model call for ${JSON.stringify([e.group, e.entityId, item])} in raw_outputs.parquet`);
    const model: CallModel = { identity, ...record, ...neighbours(items, item) };
    return { model, render: () => renderCall(model) };
  }

  private async diagnostics(identity: string, kind: string, query: Record<string, unknown>): Promise<Answer> {
    if (!(DIAGNOSTICS_KINDS as readonly string[]).includes(kind)) throw new NotFoundException(`no diagnostics page '${kind}' (there are ${DIAGNOSTICS_KINDS.join(', ')})`);
    const tableQuery = parseTableQuery(query);
    const d = await this.detail(identity);
    let table: TextTable | null;
    if (kind === 'value-ranges') {
      const json = await this.reader.json(d.runDir, 'diagnostics/value_ranges.json');
      table = json === null ? null : valueRangesTable(json);
    } else table = await this.reader.csv(d.runDir, kind === 'outliers' ? 'diagnostics/outliers.csv' : 'diagnostics/parse_failures.csv');
    const model: DiagnosticsModel = { identity, kind: kind as DiagnosticsKind, table: table ? queryTable(table, tableQuery) : null };
    return { model, render: () => renderDiagnostics(model) };
  }
}

