import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsArray, IsOptional, IsString, MaxLength, MinLength, registerDecorator, type ValidationArguments, type ValidationOptions } from 'class-validator';
import { FailureStage } from '@assay/contracts';
import { IDENTITY_EXAMPLE, IDENTITY_PATTERN, identityProblem } from './identity';
import { checkSegments } from './safe-path';

/** class-validator adapters over the pure checks in identity.ts and safe-path.ts (which say why). */
function IsIdentity(options?: ValidationOptions): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'isIdentity',
      target: target.constructor,
      propertyName: property as string,
      options: { message: (args: ValidationArguments) => identityProblem(args.value) ?? 'invalid identity', ...options },
      validator: { validate: (value: unknown) => identityProblem(value) === null },
    });
}

function IsRunDirPath(options?: ValidationOptions): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'isRunDirPath',
      target: target.constructor,
      propertyName: property as string,
      options: {
        message: (args: ValidationArguments) => {
          const checked = checkSegments(args.value as unknown[]);
          return checked.ok ? 'invalid path' : checked.reason;
        },
        ...options,
      },
      validator: { validate: (value: unknown) => Array.isArray(value) && checkSegments(value).ok },
    });
}

// ---- route parameters -------------------------------------------------------------------------

export class IdentityParams {
  @ApiProperty({ description: 'Experiment identity: <8 hex of config+data hash>_<code version>', pattern: IDENTITY_PATTERN.source, example: IDENTITY_EXAMPLE })
  @IsString()
  @IsIdentity()
  identity!: string;
}

export class FileParams extends IdentityParams {
  /** The wildcard's segments, each percent-decoded once by the router. */
  @IsOptional()
  @IsArray()
  @IsRunDirPath()
  path?: string[];
}

// ---- responses ----------------------------------------------------------------------------------

const STATUSES = ['running', 'completed', 'failed', 'skipped', 'smoke_passed', 'cancelled'];
const STAGES = [...FailureStage.options];

export class FailureDto {
  @ApiProperty() attempt!: number;
  @ApiProperty({ description: 'Stage that failed', example: 'inference', enum: STAGES, enumName: 'FailureStage' }) stage!: string;
  @ApiProperty() error!: string;
}

export class CancellationDto {
  @ApiProperty() attempt!: number;
  @ApiProperty({ enum: ['cancel', 'abandoned'], description: 'cancel = asked for; abandoned = replaced by a --force request after its stream was silent too long' }) kind!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ description: 'user@host of whoever cancelled it' }) by!: string;
}

export class RegistryEntryDto {
  @ApiProperty({ example: IDENTITY_EXAMPLE }) identity!: string;
  @ApiProperty() method!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: STATUSES, enumName: 'ExperimentStatus' }) status!: string;
  @ApiProperty({ description: '1 for the first run, n+1 for each forced or retried run' }) attempt!: number;
  @ApiProperty({ description: 'Absolute path of the run directory on the reporter host' }) runDir!: string;
  @ApiProperty() codeVersion!: string;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: "When the attempt's own pipeline ended (a re-evaluation does not change it)" }) finishedAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the latest re-evaluation round completed; null before any' }) reevaluatedAt!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { oneOf: [{ type: 'number' }, { type: 'string' }], nullable: true }, description: 'Headline metrics of a completed run' })
  summary!: Record<string, number | string | null>;
  @ApiProperty({ type: FailureDto, nullable: true }) failure!: FailureDto | null;
  @ApiProperty({ type: CancellationDto, nullable: true, description: 'Why and by whom the latest attempt was cancelled' }) cancellation!: CancellationDto | null;
  @ApiProperty({ description: 'Requests answered from the registry since the last start' }) skippedRequests!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'Content hashes of the data files' }) dataHashes!: Record<string, string>;
}

export class ExperimentListDto {
  @ApiProperty({ type: [RegistryEntryDto] }) experiments!: RegistryEntryDto[];
}

export class ReportInfoDto {
  @ApiProperty() files!: number;
  @ApiProperty({ description: 'sha256 over every file path and content (logs/ excluded)' }) treeHash!: string;
}

export class ExperimentDetailDto {
  @ApiProperty({ example: IDENTITY_EXAMPLE }) identity!: string;
  @ApiProperty() name!: string;
  @ApiProperty() method!: string;
  @ApiProperty({ enum: STATUSES, enumName: 'ExperimentStatus' }) status!: string;
  @ApiProperty() attempt!: number;
  @ApiProperty() codeVersion!: string;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finishedAt!: string | null;
  @ApiProperty() runDir!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Resolved config from the experiment.started event of this attempt' })
  config!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: "The run directory's metrics.json, null until it is written" })
  metrics!: unknown;
  @ApiProperty({ type: 'object', additionalProperties: true }) summary!: Record<string, number | string | null>;
  @ApiProperty({ type: FailureDto, nullable: true }) failure!: FailureDto | null;
  @ApiProperty({ type: CancellationDto, nullable: true }) cancellation!: CancellationDto | null;
  @ApiProperty({ type: ReportInfoDto, nullable: true }) report!: ReportInfoDto | null;
  @ApiProperty({ type: [Number], description: 'Attempts that reached evaluation (what replay can rebuild)' }) evaluatedAttempts!: number[];
}

export class DirectoryEntryDto {
  @ApiProperty({ example: 'README.txt' }) name!: string;
  @ApiProperty({ enum: ['file', 'directory', 'other'] }) type!: string;
  @ApiPropertyOptional({ description: 'Size in bytes (files only)' }) size?: number;
}

export class DirectoryListingDto {
  @ApiProperty({ description: "Path relative to the run directory ('' for the run directory itself)", example: 'groups' }) path!: string;
  @ApiProperty({ type: [DirectoryEntryDto] }) entries!: DirectoryEntryDto[];
}

export class ReplayResultDto {
  @ApiProperty({ example: IDENTITY_EXAMPLE }) identity!: string;
  @ApiProperty() attempt!: number;
  @ApiProperty() runDir!: string;
  @ApiProperty({ description: 'sha256 over every file path and content; equals the report.generated event of the run' }) treeHash!: string;
  @ApiProperty({ description: 'Number of files written' }) files!: number;
}

// ---- request bodies ------------------------------------------------------------------------------

export class CancelRequestDto {
  @ApiPropertyOptional({ description: 'Why, recorded with the cancellation', example: 'wrong prompt template', maxLength: 500 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  reason?: string;

  @ApiPropertyOptional({ description: 'Who asks (recorded as user@<client address>); "api" when absent', example: 'alice', maxLength: 100 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  user?: string;
}

export class CancelResultDto {
  @ApiProperty({ example: IDENTITY_EXAMPLE }) identity!: string;
  @ApiProperty({ description: 'The attempt that was cancelled' }) attempt!: number;
  @ApiProperty() runDir!: string;
  @ApiProperty() reason!: string;
}

export class ErrorDto {
  @ApiProperty() statusCode!: number;
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }) message!: string | string[];
  @ApiPropertyOptional() error?: string;
}
