import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { bearerMatches } from './bearer';

/**
 * Guards state-changing endpoints. When ASSAY_API_TOKEN is set in the reporter's environment, the
 * request must carry `Authorization: Bearer <token>` (401 otherwise, compared in constant time);
 * when it is not set the endpoint is open, which suits a reporter bound to 127.0.0.1 on a
 * researcher's machine (configureHttp logs a warning).
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const expected = process.env.ASSAY_API_TOKEN;
    if (!expected) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    if (bearerMatches(request.headers.authorization, expected)) return true;
    http.getResponse<{ setHeader(name: string, value: string): void }>().setHeader('WWW-Authenticate', 'Bearer realm="assay"');
    throw new UnauthorizedException(
      request.headers.authorization ? 'the bearer token does not match ASSAY_API_TOKEN' : 'this endpoint needs Authorization: Bearer <ASSAY_API_TOKEN>',
    );
  }
}
