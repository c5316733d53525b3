/**
 * CORS for every response, from CORS_ORIGIN: `*` (default) or a comma-separated allow-list. With a
 * list, the request's Origin is echoed only when listed, and `Vary: Origin` tells caches so.
 */

export const ALLOWED_HEADERS = 'authorization, x-client-info, apikey, content-type';
export const ALLOWED_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';

export function corsHeaders(origins: '*' | readonly string[], requestOrigin: string | null): Record<string, string> {
  const headers: Record<string, string> = {
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-allow-methods': ALLOWED_METHODS,
    'access-control-max-age': '86400',
  };
  if (origins === '*') {
    headers['access-control-allow-origin'] = '*';
  } else {
    headers['vary'] = 'Origin';
    if (requestOrigin !== null && origins.includes(requestOrigin)) {
      headers['access-control-allow-origin'] = requestOrigin;
    }
  }
  return headers;
}

/** Answer to a preflight (OPTIONS): 204 with the CORS headers. */
export const preflight = (headers: Record<string, string>) => new Response(null, { status: 204, headers });

export function withCors(response: Response, headers: Record<string, string>): Response {
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'vary') response.headers.append('vary', value);
    else response.headers.set(name, value);
  }
  return response;
}
