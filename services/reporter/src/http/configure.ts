import type { INestApplication } from '@nestjs/common';

export function httpPort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ASSAY_HTTP_PORT ?? '3000';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`ASSAY_HTTP_PORT must be a port number, got '${raw}'`);
  return port;
}

export function configureHttp(_app: INestApplication): void {}
