/**
 * The gateway's API-key check, as hosted Supabase's API gateway answers (issue 28, item 2): an
 * `apikey` that is present but none of the project's keys is refused before any service sees it.
 * Without this, a typo in an app's key (`sb_publishable_WRONGKEY123`, `totallywrong`) worked on
 * `npm start` (PostgREST and Auth judged only the bearer, and a user's JWT decided that) and failed
 * only after deployment.
 *
 * The project's keys: the publishable key, the secret key, and the legacy anon and service_role JWTs.
 * A request WITHOUT an apikey is not refused here: `supabase start` (the CLI's Kong) serves it, and
 * the services behind judge its bearer, as before.
 *
 * Answers, status 401, JSON, as the platform's gateway sends them (observed from hosted projects):
 *   an `sb_…` key the project does not have:  {"message":"Unregistered API key","hint":"Double check the provided API key as it is not registered for this project."}
 *   any other value (a legacy JWT that is not the project's, a typo):
 *                                              {"message":"Invalid API key","hint":"Double check your Supabase `anon` or `service_role` API key."}
 *
 * Routes, as the platform's gateway protects them:
 *   /rest/v1, /graphql/v1, /storage/v1, /realtime/v1 (HTTP API and websocket, `?apikey=`), /auth/v1 except its open
 *   routes (/verify, /callback, /authorize, /.well-known/jwks.json, which hosted serves without a key):
 *   every unknown key is refused;
 *   /functions/v1: only an unknown `sb_…` key is refused; any other value passes through to the
 *   function untouched, as the platform does (supabase/supabase#46810 lists its functions handling).
 * CORS preflights (OPTIONS) carry no key and are never refused.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface ProjectKeys { publishableKey: string; secretKey: string; anonKey: string; serviceRoleKey: string }

export const UNREGISTERED_API_KEY = {
  message: 'Unregistered API key',
  hint: 'Double check the provided API key as it is not registered for this project.',
} as const;
export const INVALID_API_KEY = {
  message: 'Invalid API key',
  hint: 'Double check your Supabase `anon` or `service_role` API key.',
} as const;

const OPEN_AUTH_ROUTES = ['/auth/v1/verify', '/auth/v1/callback', '/auth/v1/authorize', '/auth/v1/.well-known/jwks.json'];
const under = (pathname: string, prefix: string) => pathname === prefix || pathname.startsWith(`${prefix}/`);

/** How strictly a path's apikey is checked: every unknown key, only unknown `sb_` keys, or not at all. */
function strictness(pathname: string): 'all' | 'sb_' | 'none' {
  if (under(pathname, '/functions/v1')) return 'sb_';
  if (under(pathname, '/auth/v1')) return OPEN_AUTH_ROUTES.some((open) => under(pathname, open)) ? 'none' : 'all';
  if (['/rest/v1', '/graphql/v1', '/realtime/v1', '/storage/v1'].some((prefix) => under(pathname, prefix))) return 'all';
  return 'none';
}

/** The request's apikey: the header, else the `apikey` query parameter (supabase-js' websocket sends that). */
function apikeyOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.apikey;
  return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('apikey') ?? undefined;
}

/**
 * The check for one project's keys: `request` answers a refused HTTP request (true: answered, stop),
 * `upgrade` refuses a websocket upgrade on its socket (true: refused, stop).
 */
export function apiKeyCheck(keys: ProjectKeys) {
  const known = [keys.publishableKey, keys.secretKey, keys.anonKey, keys.serviceRoleKey].map((key) => Buffer.from(key));
  const isProjectKey = (apikey: string) => {
    const given = Buffer.from(apikey);
    // Constant time per candidate (only the length leaks, as for any fixed-format key).
    return known.reduce((found, key) => (key.length === given.length && timingSafeEqual(key, given)) || found, false);
  };

  /** The refusal for this request, or undefined when it passes. */
  const refusal = (req: IncomingMessage, url: URL): typeof INVALID_API_KEY | typeof UNREGISTERED_API_KEY | undefined => {
    if (req.method === 'OPTIONS') return undefined;
    const check = strictness(url.pathname);
    if (check === 'none') return undefined;
    const apikey = apikeyOf(req, url);
    if (apikey === undefined || isProjectKey(apikey)) return undefined;
    if (apikey.startsWith('sb_')) return UNREGISTERED_API_KEY;
    return check === 'all' ? INVALID_API_KEY : undefined;
  };

  return {
    request(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
      const answer = refusal(req, url);
      if (!answer) return false;
      const body = JSON.stringify(answer);
      res.writeHead(401, {
        'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'access-control-allow-origin': '*',
      });
      res.end(body);
      return true;
    },
    upgrade(req: IncomingMessage, socket: Duplex, url: URL): boolean {
      const answer = refusal(req, url);
      if (!answer) return false;
      const body = JSON.stringify(answer);
      socket.on('error', () => socket.destroy());
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
        + `connection: close\r\n\r\n${body}`);
      return true;
    },
  };
}
