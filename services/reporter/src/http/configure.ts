import { Logger, ValidationPipe, type INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import compression from 'compression';
import { compressible } from './compression-filter';

export function httpPort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ASSAY_HTTP_PORT ?? '3000';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`ASSAY_HTTP_PORT must be a port number, got '${raw}'`);
  return port;
}

export const OPENAPI_JSON_PATH = 'api/openapi.json';
export const OPENAPI_UI_PATH = 'api/docs';

/**
 * HTTP setup of the reporter, applied before the JetStream transport is connected.
 *
 * - One global ValidationPipe: route params are DTO classes (dto.ts), unknown properties are
 *   refused, values are transformed into the DTO. The microservice inherits the app config, but
 *   the pipe only validates class-typed arguments and every `on<Event>` payload is a type alias
 *   (metatype Object), so event handlers are untouched (the transport validates them with zod).
 * - Compression (brotli or gzip, as the client accepts) of the text the reporter sends: pages,
 *   JSON, the viewer's script and style, SVG plots. Server-sent events are left alone: a
 *   compressor holds bytes until its buffer fills, so progress would arrive late or never.
 * - OpenAPI: the document is built lazily on first request and served as JSON at
 *   /api/openapi.json and as Swagger UI at /api/docs.
 */
export function configureHttp(app: INestApplication): void {
  const express = app.getHttpAdapter().getInstance() as { disable?(setting: string): void };
  express.disable?.('x-powered-by');
  app.use(compression({ filter: compressible }));
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: true,
      validationError: { target: false, value: false },
    }),
  );
  const config = new DocumentBuilder()
    .setTitle('assay reporter')
    .setDescription(
      'Registry, run directories and replay of assay experiments. Everything is derived from the append-only event log; ' +
        'replay rebuilds a run directory byte for byte. POST endpoints need `Authorization: Bearer <ASSAY_API_TOKEN>` when the reporter has that variable set.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The value of ASSAY_API_TOKEN' })
    .build();
  SwaggerModule.setup(OPENAPI_UI_PATH, app, () => SwaggerModule.createDocument(app, config), {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    yamlDocumentUrl: 'api/openapi.yaml',
  });
  if (!process.env.ASSAY_API_TOKEN) new Logger('http').warn('ASSAY_API_TOKEN is not set: replay is open to anyone who can reach this port');
}

