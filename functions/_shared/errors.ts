/**
 * The one error shape of the HTTP API: `{ "error": { "code", "message", "details"? } }`.
 * Handlers throw HttpError; anything else becomes a 500 `internal` without a stack trace.
 */

export type ErrorCode =
  | 'bad_request' | 'invalid_json' | 'unauthorized' | 'missing_authorization' | 'invalid_authorization_scheme'
  | 'token_expired' | 'invalid_jwt' | 'session_revoked' | 'forbidden' | 'not_found' | 'method_not_allowed'
  | 'conflict' | 'vault_deleted' | 'cursor_ahead' | 'payload_too_large' | 'unsupported_media_type' | 'unavailable'
  | 'internal'
  // shared vaults (issue 18): 409s told apart by the SQL hint
  | 'stale_key_generation' | 'generation_changed' | 'members_changed' | 'invitation_closed' | 'invitation_expired'
  | 'already_member' | 'identity_exists' | 'identity_required'
  // the membership chain (issue 24): a link that does not extend the chain
  | 'chain_changed';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, details?: unknown) => new HttpError(400, 'bad_request', message, details);
export const notFound = (message = 'not found') => new HttpError(404, 'not_found', message);

export function jsonResponse(body: unknown, status = 200, headers?: HeadersInit): Response {
  const response = new Response(JSON.stringify(body), { status, headers });
  response.headers.set('content-type', 'application/json; charset=utf-8');
  return response;
}

export function toResponse(error: unknown): Response {
  if (error instanceof HttpError) {
    const body: { code: string; message: string; details?: unknown } = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    return jsonResponse({ error: body }, error.status, error.headers);
  }
  // Unexpected: log for the operator, tell the client nothing about internals.
  console.error('sync: unexpected error', error);
  return jsonResponse({ error: { code: 'internal', message: 'internal server error' } }, 500);
}
