import { BadRequestException, Body, ConflictException, Controller, Get, HttpCode, Logger, NotFoundException, Param, Post, Req, Res, StreamableFile, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiExtraModels,
  getSchemaPath,
} from '@nestjs/swagger';
import { errorMessage, experimentStream, isMissingPath } from '@assay/contracts';
import { EventStore, readTypedEvents } from '@assay/event-store';
import { cancelRunning, EvaluatorVersionMismatchError, REGISTRY_EVENT_TYPES } from '@assay/experiments';
import { ServiceInfo } from '@assay/messaging/nest';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ReportBuilder, UnknownExperimentError } from '../report-builder';
import { ApiTokenGuard } from './api-token.guard';
import { contentTypeFor, isInline } from './content-type';
import { CancelRequestDto, CancelResultDto, DirectoryListingDto, ErrorDto, ExperimentDetailDto, ExperimentListDto, FileParams, IdentityParams, ReplayResultDto } from './dto';
import { EXPERIMENT_DETAIL_EVENT_TYPES, experimentDetail, type ExperimentDetail } from './experiment-detail';
import { listDirectory, openRegularFile, type DirectoryEntry } from './run-files';
import { resolveInside } from './safe-path';

interface HttpResponse {
  setHeader(name: string, value: string | number): void;
  once(event: 'close', listener: () => void): void;
}

/** Detail and replay need these; the big per-batch events are never loaded. */
/**
 * The reporter's HTTP API over the registry and the run directories. Reads come from the event log
 * (the registry, the run's config) and from the run directory the reporter itself wrote; the only
 * write is replay, which rebuilds a run directory from the log.
 */
@ApiTags('experiments')
@ApiExtraModels(DirectoryListingDto)
@Controller('api/experiments')
export class ExperimentsController {
  private readonly logger = new Logger('http');
  /** One rebuild of a run directory at a time (each swaps the same directory). */

  constructor(
    private readonly builder: ReportBuilder,
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The registry: every experiment identity with its status, run directory and last failure' })
  @ApiOkResponse({ type: ExperimentListDto })
  async list(): Promise<ExperimentListDto> {
    return { experiments: await this.builder.registry() };
  }

  @Get(':identity')
  @ApiOperation({ summary: "One experiment: status, resolved config, metrics.json, run directory, failure" })
  @ApiOkResponse({ type: ExperimentDetailDto })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'Malformed identity' })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'No such identity in the event log' })
  async detail(@Param() params: IdentityParams): Promise<ExperimentDetailDto> {
    const detail = await this.findDetail(params.identity);
    return { ...detail, metrics: await readJsonOrNull(join(detail.runDir, 'metrics.json')) };
  }

  @Get(':identity/files{/*path}')
  @ApiOperation({
    summary: 'A file of the run directory (streamed), or a folder listing as JSON',
    description:
      "`path` is relative to the run directory, e.g. `README.txt`, `groups/_index.csv`, `groups` (a listing); empty for the run directory itself. " +
      'Segments may only use [A-Za-z0-9._~-] and may not start with a dot; anything else (encoded separators, `..`, backslashes, NUL, double encoding) is a 400, ' +
      'and a path that resolves outside the run directory (e.g. through a symlink) is a 404.',
  })
  @ApiParam({
    name: 'path',
    required: true,
    type: String,
    description: "Path inside the run directory, '/' between segments, e.g. groups/_index.csv; `.../files` without a path lists the run directory itself",
  })
  @ApiOkResponse({
    description: 'A folder listing (JSON), or the file streamed with a Content-Type by extension',
    content: {
      'application/json': { schema: { oneOf: [{ $ref: getSchemaPath(DirectoryListingDto) }, { type: 'object', description: 'a .json file' }] } },
      'text/plain; charset=utf-8': { schema: { type: 'string' } },
      'text/csv; charset=utf-8': { schema: { type: 'string' } },
      'text/yaml; charset=utf-8': { schema: { type: 'string' } },
      'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
    },
  })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'Malformed identity or a path that is not a plain relative path' })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'Unknown identity, or no such file inside the run directory' })
  async file(@Param() params: FileParams, @Res({ passthrough: true }) res: HttpResponse): Promise<DirectoryListingDto | StreamableFile> {
    const runDir = await this.findRunDir(params.identity);
    const resolved = await resolveInside(runDir, params.path);
    if (resolved.kind === 'invalid') throw new BadRequestException(resolved.reason);
    if (resolved.kind === 'not-found') throw new NotFoundException(`${params.identity}: ${resolved.reason}`);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (resolved.kind === 'directory') {
      const entries: DirectoryEntry[] = await listDirectory(resolved.path);
      return { path: resolved.relative, entries };
    }
    const opened = await openRegularFile(resolved.path);
    if (!opened) throw new NotFoundException(`${params.identity}: '${resolved.relative}' is not a readable file`);
    const type = contentTypeFor(resolved.path);
    const name = basename(resolved.relative);
    // Served files are data, never a page: no scripts, no plugins, even if a browser sniffs.
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    const stream = opened.handle.createReadStream();
    res.once('close', () => stream.destroy());
    return new StreamableFile(stream, {
      type,
      length: opened.size,
      disposition: `${isInline(type) ? 'inline' : 'attachment'}; filename="${name}"`,
    });
  }

  @Post(':identity/replay')
  @HttpCode(200)
  @UseGuards(ApiTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: "Rebuild the run directory from the event log (latest evaluated attempt); the tree hash must equal the run's report.generated event" })
  @ApiOkResponse({ type: ReplayResultDto })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'Malformed identity' })
  @ApiUnauthorizedResponse({ type: ErrorDto, description: 'ASSAY_API_TOKEN is set and the bearer token is missing or wrong' })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'No such identity in the event log' })
  @ApiConflictResponse({ type: ErrorDto, description: 'The experiment has no evaluated attempt yet, or its latest evaluation round was scored by another evaluator version (re-evaluate it)' })
  async replay(@Param() params: IdentityParams): Promise<ReplayResultDto> {
    const detail = await this.findDetail(params.identity);
    if (detail.evaluatedAttempts.length === 0) {
      throw new ConflictException(`${params.identity} has no evaluated attempt yet (status ${detail.status}): nothing to rebuild`);
    }
    try {
      const built = await this.builder.replay(params.identity);
      this.logger.log(`replay ${built.identity} attempt ${built.attempt}: ${built.files} files, tree ${built.treeHash.slice(0, 12)}`);
      return { identity: built.identity, attempt: built.attempt, runDir: built.runDir, treeHash: built.treeHash, files: built.files };
    } catch (error) {
      if (error instanceof UnknownExperimentError) throw new NotFoundException(error.message);
      if (error instanceof EvaluatorVersionMismatchError) throw new ConflictException(error.message);
      throw error;
    }
  }

  @Post(':identity/cancel')
  @HttpCode(200)
  @UseGuards(ApiTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary: "Cancel the identity's running attempt (as `assay cancel`)",
    description: 'Records experiment.cancelled: workers drop its remaining prompts and cut their calls in flight, nothing completes it, and the next request of its config starts a new attempt.',
  })
  @ApiOkResponse({ type: CancelResultDto })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'Malformed identity or body' })
  @ApiUnauthorizedResponse({ type: ErrorDto, description: 'ASSAY_API_TOKEN is set and the bearer token is missing or wrong' })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'No such identity in the event log' })
  @ApiConflictResponse({ type: ErrorDto, description: 'The experiment is not running (completed, failed or cancelled already)' })
  async cancel(@Param() params: IdentityParams, @Body() body: CancelRequestDto, @Req() req: { ip?: string }): Promise<CancelResultDto> {
    const reason = body.reason ?? 'cancelled over HTTP';
    const outcome = await cancelRunning(this.store, params.identity, {
      reason,
      by: { host: req.ip ?? 'unknown', user: body.user ?? 'api' },
      producer: 'reporter',
      codeVersion: this.info.codeVersion,
    });
    if (outcome.kind === 'refuse') throw outcome.problem === 'unknown' ? new NotFoundException(outcome.reason) : new ConflictException(outcome.reason);
    this.logger.log(`cancel ${params.identity} attempt ${outcome.event.data.attempt}: ${reason}`);
    return { identity: params.identity, attempt: outcome.event.data.attempt, runDir: outcome.runDir, reason };
  }

  private async findDetail(identity: string): Promise<ExperimentDetail> {
    const events = await this.store.read((sql) => readTypedEvents(sql, experimentStream(identity), EXPERIMENT_DETAIL_EVENT_TYPES));
    const detail = experimentDetail(events, identity);
    if (!detail) throw new NotFoundException(`no experiment with identity '${identity}' in the event log`);
    return detail;
  }

  private async findRunDir(identity: string): Promise<string> {
    const events = await this.store.read((sql) => readTypedEvents(sql, experimentStream(identity), REGISTRY_EVENT_TYPES));
    const detail = experimentDetail(events, identity);
    if (!detail) throw new NotFoundException(`no experiment with identity '${identity}' in the event log`);
    return detail.runDir;
  }
}

/** A run directory's JSON file, or null before the report is written; a corrupt file is an error, not "no metrics". */
async function readJsonOrNull(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isMissingPath(error)) return null;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${errorMessage(error)}): rebuild the run directory with 'assay replay'`);
  }
}
