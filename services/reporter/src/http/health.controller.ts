import { Controller, Get } from '@nestjs/common';
import { ServiceInfo } from '@assay/messaging/nest';

@Controller()
export class HealthController {
  constructor(private readonly info: ServiceInfo) {}

  @Get('health')
  health(): { status: 'ok'; service: string; codeVersion: string } {
    return { status: 'ok', service: this.info.instance, codeVersion: this.info.codeVersion };
  }
}
