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
 * behind judge the token: PostgREST and Realtime against the stack's key set, Auth itself.
 * An apikey that is present but none of the project's keys is refused first, as hosted Supabase's
 * gateway does (stack/api-key-check.ts); hosted also demands an apikey where none is sent (docs/auth.md,
 * "Keys, route by route").
 * Functions with `verify_jwt` need a bearer JWT that verifies against the key set, except for CORS
 * preflights. The gateway's own errors are Kong's shape: `{ "message" }` at the top level (plus a
 * `code`), which supabase-js reads.
 *
 * A Hono app served by @hono/node-server: a route is one `mount` line, a check of every request one
 * `app.use` line in createGateway. Proxied routes stream at the Node level (the request and the
 * answer are piped, never buffered) and hand the response on with RESPONSE_ALREADY_SENT.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { apiKeyCheck } from './api-key-check.ts';
import type { Duplex } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import type { AuthService } from './auth/index.ts';
import { CORS, preflightHeaders } from './cors.ts';
import { bearerToken, type JwtVerifier } from './jwt.ts';
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

/**
 * What every route sees: the request's URL (percent-encoded, as forwarded) and the Authorization
 * the CLI's `BearerToken` makes of Authorization and apikey (undefined for none).
 */
type GatewayEnv = { Bindings: HttpBindings; Variables: { url: URL; authorization: string | undefined } };
type Call = Context<GatewayEnv>;

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

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);

/** The gateway's own errors, in Kong's shape. */
function kongError(status: number, code: string, message: string): { status: number; headers: Record<string, string>; body: string } {
  const body = JSON.stringify({ message, code });
  return { status, body, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...CORS.rest } };
}

const errorResponse = (status: number, code: string, message: string) => {
  const error = kongError(status, code, message);
  return new Response(error.body, { status, headers: error.headers });
};

/** An error after the route handed the Node response on (a proxy or a service failed). */
function failAfterHandOver(res: ServerResponse, status: number, code: string, message: string) {
  if (res.headersSent) return res.destroy();
  const error = kongError(status, code, message);
  res.writeHead(status, error.headers);
  res.end(error.body);
}

/** Streams the request to 127.0.0.1:port at `path` and the answer back, at the Node level (no buffering). */
function proxy(c: Call, port: number, path: string, extraHeaders: Record<string, string> = {}, addCors = false): Response {
  const { incoming: req, outgoing: res } = c.env;
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
    if (addCors) Object.assign(out, CORS.rest);
    res.writeHead(answer.statusCode ?? 502, out);
    answer.pipe(res);
  });
  upstream.on('error', () => failAfterHandOver(res, 502, 'upstream_unavailable', 'The upstream service did not answer'));
  req.pipe(upstream);
  return RESPONSE_ALREADY_SENT;
}

/** Constant-time string equality (length leaks, as for any fixed-format key). */
function same(given: string, expected: Buffer): boolean {
  const bytes = Buffer.from(given);
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}

type MappedKeys = { publishable: Buffer; secret: Buffer; anonKey: string; serviceRoleKey: string };

/**
 * The CLI's `BearerToken`: the Authorization Kong forwards, from the request's Authorization and
 * apikey (see the module doc); undefined for none.
 */
export function bearerTokenFor(authorization: string | undefined, apikey: string | undefined, keys: MappedKeys): string | undefined {
  if (authorization !== undefined && !authorization.startsWith('Bearer sb_')) return authorization;
  if (apikey === undefined) return undefined;
  if (same(apikey, keys.secret)) return `Bearer ${keys.serviceRoleKey}`;
  if (same(apikey, keys.publishable)) return `Bearer ${keys.anonKey}`;
  return `Bearer ${apikey}`;
}

/** The CLI's `QueryToken` for the websocket's ?apikey=. */
function queryTokenFor(apikey: string, keys: MappedKeys): string {
  if (same(apikey, keys.secret)) return keys.serviceRoleKey;
  if (same(apikey, keys.publishable)) return keys.anonKey;
  return apikey;
}

/** /functions/v1/NAME/*: the function sees /NAME/*; verify_jwt functions need a verified bearer JWT. */
function routeFunction(options: GatewayOptions, c: Call): Response {
  const { url, authorization } = c.var;
  const rest = url.pathname.slice('/functions/v1'.length); // "/NAME/..."
  const name = rest.split('/')[1] ?? '';
  const fn = options.functions.get(name);
  if (!fn) return errorResponse(404, 'function_not_found', `No Edge Function named "${name}"`);
  if (fn.verifyJwt && c.req.method !== 'OPTIONS') {
    const token = bearerToken(authorization);
    if (!token) return errorResponse(401, 'missing_authorization', 'Missing authorization header: send Authorization: Bearer <JWT>');
    if (!options.verifier.verify(token)) return errorResponse(401, 'invalid_jwt', 'Invalid JWT');
  }
  return proxy(c, fn.port, `${rest}${url.search}`, authorization === undefined ? {} : { authorization });
}

/** Kong's cors plugin on /rest/v1 and /auth/v1: a preflight is answered here, before any key. */
const preflight = (c: Call) => new Response(null, { status: 204, headers: preflightHeaders(CORS.rest, c.env.incoming.headers) });

/** /rest/v1/*: PostgREST, with Kong's CORS on every answer. */
function routeRest(options: GatewayOptions, c: Call): Response {
  if (c.req.method === 'OPTIONS') return preflight(c);
  const { url, authorization } = c.var;
  // PostgREST would read a query `apikey` as a column filter.
  url.searchParams.delete('apikey');
  if (authorization === undefined) delete c.env.incoming.headers.authorization;
  return proxy(c, options.postgrestPort, `${url.pathname.slice('/rest/v1'.length) || '/'}${url.search}`,
    authorization === undefined ? {} : { authorization }, true);
}

/** /auth/v1/*: the embedded Auth service. */
function routeAuth(options: GatewayOptions, c: Call): Response {
  if (c.req.method === 'OPTIONS') return preflight(c);
  if (!options.auth) return errorResponse(503, 'auth_starting', 'The Auth service is still starting');
  const { url, authorization } = c.var;
  options.auth.handle(c.env.incoming, c.env.outgoing, url, url.pathname.slice('/auth/v1'.length), authorization);
  return RESPONSE_ALREADY_SENT;
}

/** /realtime/v1/* over plain HTTP: the broadcast API (websockets arrive as upgrades, below). */
function routeRealtime(options: GatewayOptions, c: Call): Response {
  const server = options.realtime?.server;
  if (!server) return errorResponse(503, 'realtime_unavailable', 'The Realtime server is not running');
  const { url, authorization } = c.var;
  server.handleHttp(c.env.incoming, c.env.outgoing, `${url.pathname.slice('/realtime/v1'.length)}${url.search}`, authorization);
  return RESPONSE_ALREADY_SENT;
}

/** /storage/v1: the embedded Storage (stack/storage/), which streams the request and the answer itself. */
function routeStorage(options: GatewayOptions, c: Call): Response {
  if (!options.storage) return errorResponse(503, 'storage_starting', 'The Storage service is still starting');
  const { url, authorization } = c.var;
  options.storage.handle(c.env.incoming, c.env.outgoing, url.pathname.slice('/storage/v1'.length), url.search, authorization);
  return RESPONSE_ALREADY_SENT;
}

export function createGateway(options: GatewayOptions): http.Server {
  const keys: MappedKeys = {
    publishable: Buffer.from(options.keys.publishableKey), secret: Buffer.from(options.keys.secretKey),
    anonKey: options.keys.anonKey, serviceRoleKey: options.keys.serviceRoleKey,
  };
  const app = new Hono<GatewayEnv>();
  app.use(async (c, next) => {
    const req = c.env.incoming;
    const url = new URL(req.url ?? '/', 'http://gateway');
    const header = req.headers.apikey;
    const apikey = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('apikey') ?? undefined;
    c.set('url', url);
    c.set('authorization', bearerTokenFor(req.headers.authorization, apikey, keys));
    await next();
  });
  const checkApiKey = apiKeyCheck(options.keys);
  app.use(async (c, next) => {
    if (checkApiKey.request(c.env.incoming, c.env.outgoing, c.var.url)) return RESPONSE_ALREADY_SENT;
    await next();
  });
  const notFound = () => errorResponse(404, 'route_not_found', 'no Route matched with those values');
  /**
   * Routes `prefix/…` (and `prefix` itself when `bare`) to `route`. The prefix is checked again on
   * the encoded path the route forwards: Hono matches the percent-decoded one.
   */
  const mount = (prefix: string, bare: boolean, route: (options: GatewayOptions, c: Call) => Response) =>
    app.all(`${prefix}/*`, (c) => {
      const path = c.var.url.pathname;
      return path.startsWith(`${prefix}/`) || (bare && path === prefix) ? route(options, c) : notFound();
    });
  // Entry checks go here, one `app.use` line each; routes below, one line each.
  mount('/functions/v1', false, routeFunction);
  mount('/rest/v1', true, routeRest);
  mount('/auth/v1', true, routeAuth);
  mount('/realtime/v1', false, routeRealtime);
  mount('/storage/v1', true, routeStorage);
  app.notFound(notFound);
  app.onError((_error, c) => {
    if (c.env.outgoing.headersSent) {
      c.env.outgoing.destroy();
      return RESPONSE_ALREADY_SENT;
    }
    return errorResponse(500, 'gateway_error', 'The gateway failed to answer');
  });

  // The proxies and services read the request themselves: node-server must not drain it.
  // Hono answers HEAD by running the GET route and copying its Response, which loses
  // RESPONSE_ALREADY_SENT (the copy is written a second time). The routes read the method from the
  // incoming request, so HEAD is routed as GET and still reaches the service as HEAD.
  const route: Parameters<typeof getRequestListener>[0] = (request, env) =>
    app.fetch(request.method === 'HEAD' ? new Request(request.url, { method: 'GET', headers: request.headers }) : request, env);
  const server = http.createServer(getRequestListener(route, { hostname: 'gateway', autoCleanupIncoming: false }));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (checkApiKey.upgrade(req, socket, url)) return;
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
