import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { exposedRequestAllowed } from './exposure';

/** Installed globally when the reporter is bound beyond loopback with ASSAY_API_TOKEN set (see httpExposure). */
@Injectable()
export class ExposedApiGuard implements CanActivate {
  constructor(private readonly token: string) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const request = http.getRequest<{ path?: string; headers: Record<string, string | string[] | undefined> }>();
    if (exposedRequestAllowed(request.path, request.headers.authorization, this.token)) return true;
    http.getResponse<{ setHeader(name: string, value: string): void }>().setHeader('WWW-Authenticate', 'Bearer realm="assay"');
    throw new UnauthorizedException('this reporter is reachable beyond loopback: every request needs Authorization: Bearer <ASSAY_API_TOKEN>');
  }
}
