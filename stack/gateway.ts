/**
 * The API gateway on :54321, routing as the CLI's Kong does (internal/start/templates/kong.yml):
 *   /rest/v1/*            -> PostgREST (prefix stripped)
 *   /functions/v1/NAME/*  -> that Edge Function, which sees the path /NAME/*
 *   /auth/v1/*            -> the embedded Auth service (stack/auth/), GoTrue's API
 *   /storage/v1/*         -> the embedded Storage (stack/storage/), Supabase Storage's API
 *   /realtime/v1/*        -> the embedded Realtime server (stack/realtime): websocket upgrades of
 *                            /realtime/v1/websocket and its HTTP broadcast API
 *
 * Keys, as the CLI's Kong: no route demands an `apikey`; on every route the gateway only rewrites
 * `Authorization` (the template's request-transformer with the CLI's `BearerToken` expression):
 *   - an `Authorization` that is not `Bearer sb_…` passes unchanged (a user's JWT decides the role);
 *   - else `apikey` = the secret key (`sb_secret_…`) becomes `Bearer <service_role JWT>`, the
 *     publishable key (`sb_publishable_…`) `Bearer <anon JWT>`, any other apikey (a legacy JWT key)
 *     is forwarded as `Bearer <apikey>`; no apikey, no Authorization.
 * The websocket's `?apikey=` is mapped the same way (the template's `QueryToken`). The services
 * behind judge the token: PostgREST and Realtime against the stack's key set, Auth itself. Unknown
 * keys therefore fail there (PostgREST: 401 PGRST301). Hosted Supabase differs: its gateway demands
 * a valid apikey on /rest/v1 and /auth/v1 (docs/auth.md, "Keys, route by route").
 * Functions with `verify_jwt` need a bearer JWT that verifies against the key set, except for CORS
 * preflights. The gateway's own errors are Kong's shape: `{ "message" }` at the top level (plus a
 * `code`), which supabase-js reads.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AuthService } from './auth/index.ts';
import type { Duplex } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import type { JwtVerifier } from './jwt.ts';
import { handleRealtimeHttp } from './realtime/http-api.ts';
import type { RealtimeServer } from './realtime/server.ts';
import type { StorageService } from './storage/index.ts';

export interface GatewayOptions {
  port: number;
  /** The stack's key set, for functions with verify_jwt. */
  verifier: JwtVerifier;
  /** The keys the CLI's Kong maps: sb_ keys to the legacy role JWTs. */
  keys: { publishableKey: string; secretKey: string; anonKey: string; serviceRoleKey: string };
  postgrestPort: number;
  functions: Map<string, { port: number; verifyJwt: boolean }>;
  /** Serves /auth/v1; set once the database is up (until then /auth/v1 answers 503). */
  auth?: AuthService;
  /** Set once the Realtime server runs (it starts after the database); until then 503. */
  realtime?: { server?: RealtimeServer };
  /** Serves /storage/v1 (stack/storage/); set once the database is up (until then 503). */
  storage?: StorageService;
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
function tokenVerifier(verifier: JwtVerifier): (token: string) => boolean {
  const verified = new Map<string, number>();
  return (token) => {
    const now = Date.now() / 1000;
    const exp = verified.get(token);
    if (exp !== undefined) {
      if (exp > now) return true;
      verified.delete(token);
      return false;
    }
    const claims = verifier.verify(token, now);
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
  const body = JSON.stringify({ message, code });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...CORS_HEADERS });
  res.end(body);
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

/** Constant-time string equality (length leaks, as for any fixed-format key). */
function same(given: string, expected: Buffer): boolean {
  const bytes = Buffer.from(given);
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}

/**
 * The CLI's `BearerToken`: the Authorization Kong forwards, from the request's Authorization and
 * apikey (see the module doc); undefined for none.
 */
export function bearerTokenFor(authorization: string | undefined, apikey: string | undefined,
  keys: { publishable: Buffer; secret: Buffer; anonKey: string; serviceRoleKey: string }): string | undefined {
  if (authorization !== undefined && !authorization.startsWith('Bearer sb_')) return authorization;
  if (apikey === undefined) return undefined;
  if (same(apikey, keys.secret)) return `Bearer ${keys.serviceRoleKey}`;
  if (same(apikey, keys.publishable)) return `Bearer ${keys.anonKey}`;
  return `Bearer ${apikey}`;
}

/** The CLI's `QueryToken` for the websocket's ?apikey=. */
function queryTokenFor(apikey: string, keys: { publishable: Buffer; secret: Buffer; anonKey: string; serviceRoleKey: string }): string {
  if (same(apikey, keys.secret)) return keys.serviceRoleKey;
  if (same(apikey, keys.publishable)) return keys.anonKey;
  return apikey;
}

export function createGateway(options: GatewayOptions): http.Server {
  const isValidToken = tokenVerifier(options.verifier);
  const keys = {
    publishable: Buffer.from(options.keys.publishableKey), secret: Buffer.from(options.keys.secretKey),
    anonKey: options.keys.anonKey, serviceRoleKey: options.keys.serviceRoleKey,
  };
  const authorizationOf = (req: IncomingMessage, url: URL) => {
    const header = req.headers.apikey;
    const apikey = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('apikey') ?? undefined;
    return bearerTokenFor(req.headers.authorization, apikey, keys);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const pathname = url.pathname;

    if (pathname.startsWith('/functions/v1/')) {
      const rest = pathname.slice('/functions/v1'.length); // "/NAME/..."
      const name = rest.split('/')[1] ?? '';
      const fn = options.functions.get(name);
      if (!fn) return sendError(res, 404, 'function_not_found', `No Edge Function named "${name}"`);
      const authorization = authorizationOf(req, url);
      if (fn.verifyJwt && req.method !== 'OPTIONS') {
        const token = authorization === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
        if (!token) return sendError(res, 401, 'missing_authorization', 'Missing authorization header: send Authorization: Bearer <JWT>');
        if (!isValidToken(token)) return sendError(res, 401, 'invalid_jwt', 'Invalid JWT');
      }
      return proxy(req, res, fn.port, `${rest}${url.search}`, authorization === undefined ? {} : { authorization });
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
      const authorization = authorizationOf(req, url);
      if (isAuth) {
        if (!options.auth) return sendError(res, 503, 'auth_starting', 'The Auth service is still starting');
        return options.auth.handle(req, res, url, pathname.slice('/auth/v1'.length), authorization);
      }
      // PostgREST would read a query `apikey` as a column filter.
      url.searchParams.delete('apikey');
      const upstreamPath = `${pathname.slice('/rest/v1'.length) || '/'}${url.search}`;
      if (authorization === undefined) delete req.headers.authorization;
      return proxy(req, res, options.postgrestPort, upstreamPath, authorization === undefined ? {} : { authorization }, true);
    }

    if (pathname === '/storage/v1' || pathname.startsWith('/storage/v1/')) {
      if (!options.storage) return sendError(res, 503, 'storage_starting', 'The Storage service is still starting');
      return options.storage.handle(req, res, pathname.slice('/storage/v1'.length), url.search, authorizationOf(req, url));
    }

    if (pathname.startsWith('/realtime/v1/')) {
      const authorization = authorizationOf(req, url);
      if (authorization === undefined) delete req.headers.authorization;
      else req.headers.authorization = authorization;
      return routeRealtime(options, req, res, url);
    }

    sendError(res, 404, 'route_not_found', 'no Route matched with those values');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const apikey = url.searchParams.get('apikey');
    if (apikey !== null) {
      url.searchParams.set('apikey', queryTokenFor(apikey, keys));
      req.url = `${url.pathname}${url.search}`;
    }
    upgradeRealtime(options, req, socket, head);
  });
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
