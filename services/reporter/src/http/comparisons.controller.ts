import { BadRequestException, Body, Controller, HttpCode, Logger, NotFoundException, Post, UseGuards } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { IsArray, IsBoolean, IsOptional, IsString } from 'class-validator';
import { ComparisonRefusedError } from '@assay/comparison';
import { ComparisonBuilder } from '../comparison-builder';
import { UnknownExperimentError } from '../report-builder';
import { ApiTokenGuard } from './api-token.guard';
import { ErrorDto } from './dto';
import { IDENTITY_EXAMPLE, identityProblem } from './identity';

export class CompareRequestDto {
  @ApiProperty({ description: 'Full identities of completed runs, baseline first (later runs are candidates)', example: [IDENTITY_EXAMPLE, '5e6f7a8b_8e2ba3cd'] })
  @IsArray()
  @IsString({ each: true })
  identities!: string[];

  @ApiPropertyOptional({ description: 'Compare runs on different data or splits anyway (unpaired; the README says so first)', default: false })
  @IsOptional()
  @IsBoolean()
  allowUnpaired?: boolean;
}

export class CompareResultDto {
  @ApiProperty({ description: 'Hash of the inputs; the directory name' }) key!: string;
  @ApiProperty({ description: 'The comparison directory' }) dir!: string;
  @ApiProperty({ type: [String] }) files!: string[];
  @ApiProperty() paired!: boolean;
  @ApiProperty({ description: 'Per pair: delta (candidate - baseline), 95% CI, p and Holm-adjusted p', type: 'array', items: { type: 'object' } }) pairs!: unknown[];
}

/** `assay compare` over HTTP: writes a comparison directory under the output root. */
@ApiTags('comparisons')
@Controller('api/comparisons')
export class ComparisonsController {
  private readonly logger = new Logger('http');

  constructor(private readonly comparisons: ComparisonBuilder) {}

  @Post()
  @HttpCode(200)
  @UseGuards(ApiTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Compare completed runs: paired differences with 95% CIs, p-values (Holm), config diff; writes <output root>/comparisons/<hash>' })
  @ApiOkResponse({ type: CompareResultDto })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'Fewer than two identities, a malformed or repeated identity, a run not completed, different item sets, or different data/split without allowUnpaired' })
  @ApiUnauthorizedResponse({ type: ErrorDto, description: 'ASSAY_API_TOKEN is set and the bearer token is missing or wrong' })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'An identity is not in the event log' })
  async compare(@Body() body: CompareRequestDto): Promise<CompareResultDto> {
    const problems = body.identities.map((id) => identityProblem(id)).filter((p): p is string => p !== null);
    if (problems.length > 0) throw new BadRequestException(problems);
    try {
      const built = await this.comparisons.build(body.identities, body.allowUnpaired === true);
      this.logger.log(`compare ${body.identities.join(' ')}: ${built.dir}`);
      return built;
    } catch (error) {
      if (error instanceof UnknownExperimentError) throw new NotFoundException(error.message);
      if (error instanceof ComparisonRefusedError) throw new BadRequestException(error.message);
      throw error;
    }
  }
}
