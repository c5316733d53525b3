/**
 * CORS for every response, from CORS_ORIGIN: `*` (default) or a comma-separated allow-list, by
 * Hono's `cors` middleware. With a list, the request's Origin is echoed only when listed, and
 * `Vary: Origin` tells caches so. Preflights (OPTIONS) are answered 204 before any auth.
 */
import { cors } from 'hono/cors';

export const ALLOWED_HEADERS = ['authorization', 'x-client-info', 'apikey', 'content-type'];
export const ALLOWED_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'];

export function corsMiddleware(origins: '*' | readonly string[]) {
  return cors({
    origin: origins === '*' ? '*' : (origin) => (origins.includes(origin) ? origin : null),
    allowHeaders: ALLOWED_HEADERS,
    allowMethods: ALLOWED_METHODS,
    maxAge: 86400,
  });
}
