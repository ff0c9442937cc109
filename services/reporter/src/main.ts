import { runFailureOnGiveUp } from '@assay/experiments';
import { startService } from '@assay/messaging/nest';
import { Logger } from '@nestjs/common';
import { configureHttp, httpPort } from './http/configure';
import { ExposedApiGuard } from './http/exposed-api.guard';
import { httpExposure, type HttpExposure } from './http/exposure';
import { ReporterModule } from './reporter.module';

let exposure: HttpExposure;
try {
  exposure = httpExposure();
} catch (error) {
  console.error(`reporter: ${(error as Error).message}`);
  process.exit(1);
}
startService({
  service: 'reporter',
  onGiveUp: runFailureOnGiveUp,
  module: ReporterModule,
  concurrency: 2,
  http: {
    port: httpPort(),
    host: exposure.host,
    configure: (app) => {
      // Global, so every route (the API and any page added later) sits behind the token when exposed.
      if (exposure.exposed && exposure.token) app.useGlobalGuards(new ExposedApiGuard(exposure.token));
      if (exposure.warning) new Logger('http').warn(`!!! ${exposure.warning} !!!`);
      return configureHttp(app);
    },
  },
});
