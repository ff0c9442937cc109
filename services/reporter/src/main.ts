import { runFailureOnGiveUp } from '@assay/experiments';
import { startService } from '@assay/messaging/nest';
import { configureHttp, httpPort } from './http/configure';
import { ReporterModule } from './reporter.module';

startService({ service: 'reporter', onGiveUp: runFailureOnGiveUp, module: ReporterModule, concurrency: 2, http: { port: httpPort(), configure: configureHttp } });
