/**
 * CORS of the embedded stack, in one place: the headers the CLI's Kong `cors` plugin adds per
 * service (internal/start/templates/kong.yml), which the gateway, Auth and Realtime answer with.
 *   rest      /rest/v1 answers and errors, and the gateway's own errors
 *   auth      every /auth/v1 answer (auth-js reads the exposed headers)
 *   realtime  the /realtime/v1 broadcast API
 *   storage   every /storage/v1 answer, TUS headers exposed (tus-js-client reads them)
 * A preflight (OPTIONS) is answered 204 with the service's headers and the requested headers
 * allowed (`*` when none are named), before any key or token check.
 * The Edge Functions answer CORS themselves (functions/_shared/cors.ts, Hono's `cors`).
 */
import type { IncomingHttpHeaders } from 'node:http';

export const CORS = {
  rest: {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS',
    'access-control-expose-headers': 'content-range, content-profile, x-total-count',
    'access-control-max-age': '3600',
  },
  auth: {
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'x-supabase-api-version, x-total-count, link, x-sb-error-code',
  },
  realtime: {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-max-age': '3600',
  },
  storage: {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS',
    'access-control-expose-headers': 'content-range, content-length, etag, location, upload-offset, upload-length, tus-version, '
      + 'tus-resumable, tus-max-size, tus-extension, upload-expires',
    'access-control-max-age': '3600',
  },
} as const satisfies Record<string, Record<string, string>>;

export type CorsPolicy = (typeof CORS)[keyof typeof CORS];

/** The headers of a 204 answer to a preflight under `policy`. */
export function preflightHeaders(policy: CorsPolicy, requestHeaders: IncomingHttpHeaders | Headers): Record<string, string> {
  const requested = requestHeaders instanceof Headers
    ? requestHeaders.get('access-control-request-headers') ?? undefined
    : requestHeaders['access-control-request-headers'];
  return { ...policy, 'access-control-allow-headers': requested ?? '*' };
}
