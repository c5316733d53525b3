/**
 * Errors of the embedded Auth service in GoTrue's wire format (supabase/auth internal/api/errors.go).
 *
 * A request carrying `X-Supabase-Api-Version: 2024-01-01` or later gets `{ "code": "<error code>",
 * "message" }` and the header echoed as `2024-01-01`; auth-js sends it and reads `code` only then.
 * Any other request gets GoTrue's original shape `{ "code": <HTTP status>, "error_code", "msg" }`.
 * Both carry `x-sb-error-code`. A weak password adds `weak_password: { reasons }`.
 * Unexpected failures are 500 `unexpected_failure` with a fixed message; details go to the log only.
 * OAuth-style failures (a refresh grant without refresh_token) are GoTrue's OAuthError: 400
 * `{ "error", "error_description" }` in either version.
 */
import { CORS } from '../cors.ts';

export class AuthError extends Error {
  constructor(readonly status: number, readonly code: string, message: string,
    readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

/** GoTrue's OAuthError: always 400 `{ error, error_description }`, in either API version, no x-sb-error-code. */
export class OAuthError extends Error {
  constructor(readonly error: string, readonly description: string) {
    super(description);
  }
}

export const badRequest = (code: string, message: string) => new AuthError(400, code, message);
export const validationFailed = (message: string) => new AuthError(400, 'validation_failed', message);
export const forbidden = (code: string, message: string) => new AuthError(403, code, message);
export const notFound = (code: string, message: string) => new AuthError(404, code, message);
export const unprocessable = (code: string, message: string) => new AuthError(422, code, message);

export class WeakPasswordError extends AuthError {
  constructor(message: string, reasons: string[]) {
    super(422, 'weak_password', message, { weak_password: { reasons } });
  }
}

const API_VERSION_2024 = Date.UTC(2024, 0, 1);

/** GoTrue's DetermineClosestAPIVersion: only 2024-01-01 and later switch to the new error shape. */
export function requestApiVersion(request: Request): '2024-01-01' | undefined {
  const raw = request.headers.get('x-supabase-api-version');
  if (raw === null || !/^\d{4}-\d{2}-\d{2}$/.test(raw)) return undefined;
  const parsed = Date.parse(`${raw}T00:00:00Z`);
  return Number.isFinite(parsed) && parsed >= API_VERSION_2024 ? '2024-01-01' : undefined;
}

/** An answer of the Auth service: JSON (or empty), Kong's CORS headers, the API version echoed. */
export function jsonResponse(request: Request, status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const text = body === undefined ? '' : JSON.stringify(body);
  const version = requestApiVersion(request);
  return new Response(text === '' ? null : text, {
    status,
    headers: {
      ...CORS.auth,
      ...(text ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } : {}),
      ...(version ? { 'x-supabase-api-version': version } : {}),
      ...headers,
    },
  });
}

export function errorResponse(request: Request, error: unknown, log: (line: string) => void): Response {
  if (error instanceof OAuthError) return jsonResponse(request, 400, { error: error.error, error_description: error.description });
  const known = error instanceof AuthError ? error : undefined;
  if (!known) {
    log(`auth: unexpected failure on ${request.method} ${new URL(request.url).pathname}: ${(error as Error)?.stack ?? String(error)}`);
  }
  const status = known?.status ?? 500;
  const code = known?.code ?? 'unexpected_failure';
  const message = known?.message ?? 'Unexpected failure, please check server logs for more information';
  const body = requestApiVersion(request)
    ? { code, message, ...known?.extra }
    : { code: status, error_code: code, msg: message, ...known?.extra };
  return jsonResponse(request, status, body, { 'x-sb-error-code': code });
}
