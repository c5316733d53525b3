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
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RealtimeServer } from './server.ts';
import { checkToken } from './tokens.ts';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-max-age': '3600',
};
const MAX_BODY = 3 * 1024 * 1024;

function answer(res: ServerResponse, status: number, body?: unknown) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...CORS, ...(text ? { 'content-type': 'application/json' } : {}), 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface BatchMessage { topic?: unknown; event?: unknown; payload?: unknown; private?: unknown; id?: unknown }

/** Handles /realtime/v1/<rest>; `rest` starts with "/". */
export async function handleRealtimeHttp(server: RealtimeServer, req: IncomingMessage, res: ServerResponse, rest: string, url: URL) {
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { ...CORS, 'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*' });
    return res.end();
  }
  const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(rest);
  if (req.method !== 'POST' || (rest !== '/api/broadcast' && !single)) return answer(res, 404, { message: 'not found' });
  const bearer = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const check = checkToken(bearer ?? req.headers.apikey, server.verifier);
  if (!check.ok) return answer(res, 401, { message: 'Unauthorized' });
  const context = (topic: string) => ({ topic, role: check.claims.role, claims: check.claims });

  let body: unknown;
  try {
    const text = await readBody(req);
    body = text ? JSON.parse(text) : {};
  } catch {
    return answer(res, 422, { errors: { body: ['is invalid'] } });
  }

  if (single) {
    let topic: string;
    let event: string;
    try {
      topic = decodeURIComponent(single[1]!);
      event = decodeURIComponent(single[2]!);
    } catch {
      // Plug's router refuses a malformed path with 400; Realtime's ErrorView renders the status text.
      return answer(res, 400, 'Bad Request');
    }
    const isPrivate = url.searchParams.get('private') === 'true';
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return answer(res, 422, { errors: { payload: ['is invalid'] } });
    if (isPrivate && !(await server.database.writeAuthorization(context(topic)).catch(() => false))) {
      return answer(res, 403, { message: 'Unauthorized' });
    }
    server.publish(topic, isPrivate, { event, payloadJson: JSON.stringify(body) });
    return answer(res, 202);
  }

  const messages = (body as { messages?: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0) return answer(res, 422, { errors: { messages: ["can't be blank"] } });
  const errors = (messages as BatchMessage[]).map((m) => {
    const e: Record<string, string[]> = {};
    for (const field of ['topic', 'event'] as const) if (typeof m?.[field] !== 'string' || m[field] === '') e[field] = ["can't be blank"];
    if (typeof m?.payload !== 'object' || m.payload === null || Array.isArray(m.payload)) e.payload = ["can't be blank"];
    return e;
  });
  if (errors.some((e) => Object.keys(e).length > 0)) return answer(res, 422, { errors: { messages: errors } });

  const allowed = new Map<string, Promise<boolean>>();
  for (const m of messages as Required<BatchMessage>[]) {
    const topic = m.topic as string;
    const isPrivate = m.private === true;
    if (isPrivate) {
      if (!allowed.has(topic)) allowed.set(topic, server.database.writeAuthorization(context(topic)).catch(() => false));
      if (!(await allowed.get(topic))) continue;
    }
    server.publish(topic, isPrivate, {
      event: m.event as string, payloadJson: JSON.stringify(m.payload),
      ...(typeof m.id === 'string' ? { meta: { id: m.id } } : {}),
    });
  }
  return answer(res, 202);
}
