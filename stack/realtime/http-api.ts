/**
 * Realtime's HTTP broadcast API on the embedded stack (supabase/realtime: BroadcastController,
 * BroadcastSingleController, AuthTenant, BatchBroadcast, SingleBroadcast), under /realtime/v1:
 *
 *   POST /api/broadcast  {"messages": [{"topic", "event", "payload": {...}, "private"?: bool, "id"?}]}
 *        -> 202 (empty). Private messages are sent only to topics the caller's write probe allows;
 *           the others are dropped silently, as Realtime does. Public messages reach public
 *           subscribers (there are none: the embedded stack only joins private channels).
 *           422 {"errors": {"messages": [...]}} when a message lacks topic, event or payload.
 *   POST /api/broadcast/:topic/events/:event[?private=true]  body = the JSON payload
 *        -> 202; 403 {"message": "Unauthorized"} when the write probe refuses a private topic.
 * Auth: `Authorization: Bearer <JWT>` or else the `apikey` header, a valid project JWT with `role`
 * and `exp`; otherwise 401 {"message": "Unauthorized"}. Binary bodies are not supported here.
 */
import { type Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { CORS, preflightHeaders } from '../cors.ts';
import type { ServiceEnv } from '../http.ts';
import { bearerToken } from '../jwt.ts';
import type { RealtimeServer } from './server.ts';
import { checkToken, type TokenCheck } from './tokens.ts';

const MAX_BODY = 3 * 1024 * 1024;

type BroadcastEnv = ServiceEnv & { Variables: { check: Extract<TokenCheck, { ok: true }> } };
type Call = Context<BroadcastEnv>;

function answer(status: number, body?: unknown): Response {
  const text = body === undefined ? '' : JSON.stringify(body);
  return new Response(text === '' ? null : text, {
    status,
    headers: { ...CORS.realtime, ...(text ? { 'content-type': 'application/json' } : {}), 'content-length': String(Buffer.byteLength(text)) },
  });
}

class TooLarge extends Error {}

async function readBody(request: Request): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
    size += read.value.length;
    if (size > MAX_BODY) throw new TooLarge();
    chunks.push(read.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The JSON body, or undefined when it is no JSON (or too large): Realtime's 422 `body is invalid`. */
async function jsonBody(c: Call): Promise<unknown> {
  try {
    const text = await readBody(c.req.raw);
    return text ? JSON.parse(text) : {};
  } catch {
    return undefined;
  }
}

interface BatchMessage { topic?: unknown; event?: unknown; payload?: unknown; private?: unknown; id?: unknown }

const authorizationContext = (c: Call, topic: string) => {
  const { claims } = c.var.check;
  return { topic, role: claims.role, claims };
};

/** POST /api/broadcast/:topic/events/:event */
async function broadcastOne(server: RealtimeServer, c: Call): Promise<Response> {
  const body = await jsonBody(c);
  if (body === undefined) return answer(422, { errors: { body: ['is invalid'] } });
  // The raw segments: a malformed escape is Plug's 400, which Hono's lenient decoding would hide.
  const [, , , rawTopic, , rawEvent] = new URL(c.req.url).pathname.split('/') as string[];
  let topic: string;
  let event: string;
  try {
    topic = decodeURIComponent(rawTopic!);
    event = decodeURIComponent(rawEvent!);
  } catch {
    // Realtime's ErrorView renders the status text.
    return answer(400, 'Bad Request');
  }
  const isPrivate = c.req.query('private') === 'true';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return answer(422, { errors: { payload: ['is invalid'] } });
  if (isPrivate && !(await server.database.writeAuthorization(authorizationContext(c, topic)).catch(() => false))) {
    return answer(403, { message: 'Unauthorized' });
  }
  server.publish(topic, isPrivate, { event, payloadJson: JSON.stringify(body) });
  return answer(202);
}

/** POST /api/broadcast */
async function broadcastBatch(server: RealtimeServer, c: Call): Promise<Response> {
  const body = await jsonBody(c);
  if (body === undefined) return answer(422, { errors: { body: ['is invalid'] } });
  const messages = (body as { messages?: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0) return answer(422, { errors: { messages: ["can't be blank"] } });
  const errors = (messages as BatchMessage[]).map((m) => {
    const e: Record<string, string[]> = {};
    for (const field of ['topic', 'event'] as const) if (typeof m?.[field] !== 'string' || m[field] === '') e[field] = ["can't be blank"];
    if (typeof m?.payload !== 'object' || m.payload === null || Array.isArray(m.payload)) e.payload = ["can't be blank"];
    return e;
  });
  if (errors.some((e) => Object.keys(e).length > 0)) return answer(422, { errors: { messages: errors } });

  const allowed = new Map<string, Promise<boolean>>();
  for (const m of messages as Required<BatchMessage>[]) {
    const topic = m.topic as string;
    const isPrivate = m.private === true;
    if (isPrivate) {
      if (!allowed.has(topic)) allowed.set(topic, server.database.writeAuthorization(authorizationContext(c, topic)).catch(() => false));
      if (!(await allowed.get(topic))) continue;
    }
    server.publish(topic, isPrivate, {
      event: m.event as string, payloadJson: JSON.stringify(m.payload),
      ...(typeof m.id === 'string' ? { meta: { id: m.id } } : {}),
    });
  }
  return answer(202);
}

/** The broadcast API as a Hono app; paths are relative to /realtime/v1. */
export function createBroadcastApi(server: RealtimeServer): Hono<ServiceEnv> {
  const app = new Hono<BroadcastEnv>();
  app.options('*', (c) => new Response(null, { status: 204, headers: preflightHeaders(CORS.realtime, c.req.raw.headers) }));
  // Authentication before the body is read.
  const authenticated = createMiddleware<BroadcastEnv>(async (c, next) => {
    const bearer = bearerToken(c.env.authorization);
    const check = checkToken(bearer ?? c.req.header('apikey'), server.verifier);
    if (!check.ok) return answer(401, { message: 'Unauthorized' });
    c.set('check', check);
    await next();
  });
  app.post('/api/broadcast', authenticated, (c) => broadcastBatch(server, c));
  app.post('/api/broadcast/:topic/events/:event', authenticated, (c) => broadcastOne(server, c));
  app.notFound(() => answer(404, { message: 'not found' }));
  app.onError(() => answer(500, { message: 'The Realtime server failed to answer', code: 'realtime_error' }));
  return app as unknown as Hono<ServiceEnv>;
}
