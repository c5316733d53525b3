/**
 * Edge Function `sync`: the HTTP API of haex-sync (see protocol.ts and docs/http-api.md).
 * Supabase (and the embedded gateway) route /functions/v1/sync/* here as /sync/*.
 */
import { config } from '../_shared/config.ts';
import { corsHeaders, preflight, withCors } from '../_shared/cors.ts';
import { toResponse } from '../_shared/errors.ts';
import { match } from './routes.ts';

/** `/sync/push` -> `/push`; `/sync` -> `/`. */
export function routePath(pathname: string): string {
  const rest = pathname.replace(/^\/sync(?=\/|$)/, '');
  return rest === '' ? '/' : rest;
}

export async function handler(request: Request): Promise<Response> {
  const cors = corsHeaders(config.corsOrigins, request.headers.get('origin'));
  if (request.method === 'OPTIONS') return preflight(cors);
  let response: Response;
  try {
    const path = routePath(new URL(request.url).pathname);
    const { handler, params } = match(request.method, path);
    response = await handler({ request, params });
  } catch (error) {
    response = toResponse(error);
  }
  // An error answered before the body was read (401, 413, 415, ...): release the body now rather
  // than leave the connection holding unread bytes.
  if (request.body && !request.bodyUsed) await request.body.cancel().catch(() => {});
  return withCors(response, cors);
}

if (import.meta.main) Deno.serve(handler);
