import { Controller, Get, NotFoundException, Param, Post } from '@nestjs/common';
import { ReportBuilder, UnknownExperimentError } from '../report-builder';

@Controller('api/experiments')
export class ExperimentsController {
  constructor(private readonly builder: ReportBuilder) {}

  @Get()
  async list() {
    return { experiments: await this.builder.registry() };
  }

  @Post(':identity/replay')
  async replay(@Param('identity') identity: string) {
    try {
      return await this.builder.build(identity);
    } catch (error) {
      if (error instanceof UnknownExperimentError) throw new NotFoundException(error.message);
      throw error;
    }
  }
}
