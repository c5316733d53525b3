/**
 * The API gateway on :54321, routing as Supabase's does (Kong in `supabase start`):
 *   /rest/v1/*            -> PostgREST (prefix stripped)
 *   /functions/v1/NAME/*  -> that Edge Function, which sees the path /NAME/*
 *   /auth/v1/*            -> the embedded Auth service (stack/auth/), GoTrue's API
 *   /realtime/v1/*        -> the embedded Realtime server (stack/realtime): websocket upgrades of
 *                            /realtime/v1/websocket and its HTTP broadcast API; it checks keys itself
 * Every /rest and /auth request needs an `apikey` (header or query) that is exactly one of the
 * project's keys (anon or service role), as Kong's key-auth checks its consumers' keys: a user's JWT,
 * however valid, is no apikey. A bearer JWT next to it must verify; without one the apikey becomes
 * the bearer token, as Kong does. Else 401. Functions
 * with `verify_jwt` (the default) need a valid bearer JWT, except for CORS preflights, which reach
 * the function as on hosted Supabase. Errors are `{ "error": { "code", "message" } }`.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AuthService } from './auth/index.ts';
import type { Duplex } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { verifyJwt } from './jwt.ts';
import { handleRealtimeHttp } from './realtime/http-api.ts';
import type { RealtimeServer } from './realtime/server.ts';

export interface GatewayOptions {
  port: number;
  jwtSecret: string;
  /** The project's API keys (anon, service role): the only values `apikey` may have. */
  apiKeys: readonly string[];
  postgrestPort: number;
  functions: Map<string, { port: number; verifyJwt: boolean }>;
  /** Serves /auth/v1; set once the database is up (until then /auth/v1 answers 503). */
  auth?: AuthService;
  /** Set once the Realtime server runs (it starts after the database); until then 503. */
  realtime?: { server?: RealtimeServer };
}

/** /realtime/v1 over plain HTTP: the broadcast API. */
function routeRealtime(options: GatewayOptions, req: IncomingMessage, res: ServerResponse, url: URL) {
  const server = options.realtime?.server;
  if (!server) return sendError(res, 503, 'realtime_unavailable', 'The Realtime server is not running');
  handleRealtimeHttp(server, req, res, url.pathname.slice('/realtime/v1'.length), url).catch(() => {
    if (!res.headersSent) sendError(res, 500, 'realtime_error', 'The Realtime server failed to answer');
    else res.destroy();
  });
}

/** Websocket upgrades: only /realtime/v1/websocket, handed to the Realtime server. */
function upgradeRealtime(options: GatewayOptions, req: IncomingMessage, socket: Duplex, head: Buffer) {
  // Node drops its own error listener from a socket it hands to 'upgrade': without one, a client
  // resetting the connection after our refusal would be an uncaught ECONNRESET (the stack dies).
  socket.on('error', () => socket.destroy());
  const url = new URL(req.url ?? '/', 'http://gateway');
  const server = options.realtime?.server;
  if (url.pathname.replace(/\/+$/, '') !== '/realtime/v1/websocket' || !server) {
    const status = server ? '404 Not Found' : '503 Service Unavailable';
    socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    return;
  }
  server.handleUpgrade(req, socket, head, url);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * A verifier that remembers tokens it already verified, with their expiry: clients send the same few
 * tokens on every request, so the HMAC and JSON parse run once per token. Bounded; cleared when full.
 */
function tokenVerifier(secret: string): (token: string) => boolean {
  const verified = new Map<string, number>();
  return (token) => {
    const now = Date.now() / 1000;
    const exp = verified.get(token);
    if (exp !== undefined) {
      if (exp > now) return true;
      verified.delete(token);
      return false;
    }
    const claims = verifyJwt(token, secret, now);
    if (!claims) return false;
    if (verified.size >= 10_000) verified.clear();
    verified.set(token, typeof claims.exp === 'number' ? claims.exp : Number.POSITIVE_INFINITY);
    return true;
  };
}

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS',
  'access-control-expose-headers': 'content-range, content-profile, x-total-count',
  'access-control-max-age': '3600',
};

function sendError(res: ServerResponse, status: number, code: string, message: string) {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...CORS_HEADERS });
  res.end(body);
}

function bearerOf(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

function proxy(req: IncomingMessage, res: ServerResponse, port: number, path: string,
  extraHeaders: Record<string, string> = {}, addCors = false) {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
  }
  Object.assign(headers, extraHeaders, {
    host: `127.0.0.1:${port}`,
    'x-forwarded-for': req.socket.remoteAddress ?? '',
    'x-forwarded-proto': 'http',
  });
  const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path, headers, agent }, (answer) => {
    const out: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
    }
    if (addCors) Object.assign(out, CORS_HEADERS);
    res.writeHead(answer.statusCode ?? 502, out);
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) sendError(res, 502, 'upstream_unavailable', 'The upstream service did not answer');
    else res.destroy();
  });
  req.pipe(upstream);
}

/** Is `apikey` exactly one of the project's keys? (Constant time per candidate of equal length.) */
function isProjectKey(apikey: string, keys: readonly Buffer[]): boolean {
  const given = Buffer.from(apikey);
  let found = false;
  for (const key of keys) if (key.length === given.length && timingSafeEqual(key, given)) found = true;
  return found;
}

/** Kong-style key check for /rest/v1 and /auth/v1; returns the Authorization to forward, or undefined after a 401. */
function authorizeApiRequest(req: IncomingMessage, res: ServerResponse, url: URL,
  isValidToken: (token: string) => boolean, projectKeys: readonly Buffer[], checkBearer: boolean): string | undefined {
  const header = req.headers.apikey;
  const apikey = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('apikey') ?? undefined;
  if (apikey === undefined) {
    sendError(res, 401, 'missing_api_key', 'No API key found in request: send the project\'s anon key as apikey');
    return undefined;
  }
  // Kong's key-auth: the key must be one its consumers hold (anon, service_role), nothing else,
  // also no other validly signed JWT such as a user's access token.
  if (Array.isArray(header) || !isProjectKey(apikey, projectKeys)) {
    sendError(res, 401, 'invalid_api_key', 'Invalid API key: the apikey is not a key of this project');
    return undefined;
  }
  // Stricter than Kong, same answer as PostgREST would give: a bad bearer next to a good apikey
  // is refused here, so junk tokens never reach PostgREST's JWT cache. Not for /auth/v1: there, as
  // behind Kong, Auth judges the bearer itself (GoTrue answers 403 bad_jwt, and ignores it where
  // no session is needed, as on sign-in).
  const bearer = bearerOf(req);
  if (checkBearer && req.headers.authorization !== undefined && (bearer === undefined || !isValidToken(bearer))) {
    sendError(res, 401, 'invalid_jwt', 'Invalid JWT: bad signature, malformed or expired');
    return undefined;
  }
  return req.headers.authorization ?? `Bearer ${apikey}`;
}

export function createGateway(options: GatewayOptions): http.Server {
  const isValidToken = tokenVerifier(options.jwtSecret);
  const projectKeys = options.apiKeys.map((key) => Buffer.from(key));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const pathname = url.pathname;

    if (pathname.startsWith('/functions/v1/')) {
      const rest = pathname.slice('/functions/v1'.length); // "/NAME/..."
      const name = rest.split('/')[1] ?? '';
      const fn = options.functions.get(name);
      if (!fn) return sendError(res, 404, 'function_not_found', `No Edge Function named "${name}"`);
      if (fn.verifyJwt && req.method !== 'OPTIONS') {
        const token = bearerOf(req);
        if (!token) return sendError(res, 401, 'missing_authorization', 'Missing authorization header: send Authorization: Bearer <JWT>');
        if (!isValidToken(token)) return sendError(res, 401, 'invalid_jwt', 'Invalid JWT: bad signature, malformed or expired');
      }
      return proxy(req, res, fn.port, `${rest}${url.search}`);
    }

    const isRest = pathname.startsWith('/rest/v1/') || pathname === '/rest/v1';
    const isAuth = pathname.startsWith('/auth/v1/') || pathname === '/auth/v1';
    if (isRest || isAuth) {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          ...CORS_HEADERS,
          'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
        });
        return res.end();
      }
      const authorization = authorizeApiRequest(req, res, url, isValidToken, projectKeys, isRest);
      if (authorization === undefined) return;
      if (isAuth) {
        if (!options.auth) return sendError(res, 503, 'auth_starting', 'The Auth service is still starting');
        return options.auth.handle(req, res, url, pathname.slice('/auth/v1'.length), authorization);
      }
      // Kong's key-auth hides the credential: PostgREST would read `apikey` as a column filter.
      url.searchParams.delete('apikey');
      const upstreamPath = `${pathname.slice('/rest/v1'.length) || '/'}${url.search}`;
      return proxy(req, res, options.postgrestPort, upstreamPath, { authorization }, true);
    }

    if (pathname.startsWith('/realtime/v1/')) return routeRealtime(options, req, res, url);

    sendError(res, 404, 'route_not_found', `No route for ${pathname}: use /rest/v1, /functions/v1, /auth/v1 or /realtime/v1`);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgradeRealtime(options, req, socket, head));
  server.keepAliveTimeout = 65_000;
  return server;
}

export function listen(server: http.Server, port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
