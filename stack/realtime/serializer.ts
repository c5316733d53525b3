/**
 * Phoenix socket frames as Supabase Realtime speaks them, for both serializer versions a client may
 * ask for with the `vsn` query parameter (supabase/realtime: Phoenix.Socket.V1.JSONSerializer and
 * RealtimeWeb.Socket.V2Serializer; realtime-js: lib/serializer.ts).
 *
 * 1.0.0  text only: `{"topic","event","payload","ref"}` (join_ref is not sent by the server).
 * 2.0.0  text: `[join_ref, ref, topic, event, payload]`; binary (first byte = kind):
 *          0 push               client -> server: join_ref, ref, topic, event sizes (u8 each), then
 *                               the strings and the binary payload (V2Serializer.decode_binary)
 *          3 user broadcast push client -> server: sizes of join_ref, ref, topic, user event,
 *                               metadata (u8 each), payload encoding (0 binary, 1 JSON), then the
 *                               strings and the payload
 *          4 user broadcast     server -> client: sizes of topic, user event, metadata, encoding,
 *                               then the strings and the payload
 *        Every size is one byte, so topics, events and metadata are at most 255 bytes.
 * Every broadcast goes to 2.0.0 sockets as a kind-4 frame (what Realtime sends for broadcasts from
 * the database and from websockets; its HTTP-API broadcasts go as text frames that realtime-js decodes
 * to the same `{type: "broadcast", event, payload, meta?}`), and to 1.0.0 sockets as that JSON.
 */

export type Vsn = '1.0.0' | '2.0.0';

export interface PhoenixMessage {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
}

/** A broadcast to fan out: `payloadJson` is the user payload as JSON text, kept unparsed. */
export interface Broadcast {
  event: string;
  payloadJson: string;
  meta?: Record<string, unknown>;
}

export class FrameError extends Error {}

const KIND_PUSH = 0;
const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
const decoder = new TextDecoder();

export function decodeFrame(vsn: Vsn, data: Buffer, isBinary: boolean): PhoenixMessage {
  if (!isBinary) {
    let parsed: unknown;
    try { parsed = JSON.parse(data.toString('utf8')); } catch { throw new FrameError('not JSON'); }
    if (vsn === '2.0.0') {
      if (!Array.isArray(parsed) || parsed.length < 5) throw new FrameError('expected V2 array');
      const [joinRef, ref, topic, event, payload] = parsed as unknown[];
      if (typeof topic !== 'string' || typeof event !== 'string') throw new FrameError('topic and event must be strings');
      return { joinRef: asRef(joinRef), ref: asRef(ref), topic, event, payload };
    }
    const m = parsed as Record<string, unknown> | null;
    if (!m || typeof m !== 'object' || typeof m.topic !== 'string' || typeof m.event !== 'string') {
      throw new FrameError('expected V1 object');
    }
    return { joinRef: asRef(m.join_ref), ref: asRef(m.ref), topic: m.topic, event: m.event, payload: m.payload };
  }
  if (vsn !== '2.0.0') throw new FrameError('binary frames need vsn 2.0.0');
  let offset = 0;
  const u8 = () => {
    if (offset >= data.length) throw new FrameError('truncated frame');
    return data[offset++]!;
  };
  const str = (size: number) => {
    if (offset + size > data.length) throw new FrameError('truncated frame');
    const s = decoder.decode(data.subarray(offset, offset + size));
    offset += size;
    return s;
  };
  const kind = u8();
  if (kind === KIND_USER_BROADCAST_PUSH) {
    const [joinRefSize, refSize, topicSize, eventSize, metaSize, encoding] = [u8(), u8(), u8(), u8(), u8(), u8()];
    const joinRef = str(joinRefSize);
    const ref = str(refSize);
    const topic = str(topicSize);
    const userEvent = str(eventSize);
    const meta = str(metaSize);
    const body = data.subarray(offset);
    if (encoding !== 1) throw new FrameError('binary broadcast payloads are not supported by the embedded stack');
    const payloadJson = body.toString('utf8');
    try { JSON.parse(payloadJson); } catch { throw new FrameError('broadcast payload is not JSON'); }
    return {
      joinRef: joinRef || null, ref: ref || null, topic, event: 'broadcast',
      payload: { userBroadcast: { event: userEvent, payloadJson, meta: meta ? JSON.parse(meta) : {} } },
    };
  }
  if (kind === KIND_PUSH) {
    const [joinRefSize, refSize, topicSize, eventSize] = [u8(), u8(), u8(), u8()];
    const joinRef = str(joinRefSize);
    const ref = str(refSize);
    const topic = str(topicSize);
    const event = str(eventSize);
    return { joinRef: joinRef || null, ref: ref || null, topic, event, payload: { binary: data.subarray(offset) } };
  }
  throw new FrameError(`unknown binary frame kind ${kind}`);
}

const asRef = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

export function encodeMessage(vsn: Vsn, m: PhoenixMessage): string {
  return vsn === '2.0.0'
    ? JSON.stringify([m.joinRef, m.ref, m.topic, m.event, m.payload])
    : JSON.stringify({ topic: m.topic, event: m.event, payload: m.payload, ref: m.ref });
}

export const encodeReply = (vsn: Vsn, joinRef: string | null, ref: string | null, topic: string,
  status: 'ok' | 'error', response: unknown) =>
  encodeMessage(vsn, { joinRef, ref, topic, event: 'phx_reply', payload: { status, response } });

/** The frame that carries `broadcast` to a socket of `vsn` joined to `topic` (cache it per vsn and topic). */
export function encodeBroadcast(vsn: Vsn, topic: string, broadcast: Broadcast): string | Buffer {
  if (vsn === '2.0.0') {
    const meta = broadcast.meta ? JSON.stringify(broadcast.meta) : '';
    const topicBytes = Buffer.from(topic);
    const eventBytes = Buffer.from(broadcast.event);
    const metaBytes = Buffer.from(meta);
    if (topicBytes.length > 255 || eventBytes.length > 255 || metaBytes.length > 255) {
      throw new FrameError('topic, event and metadata must be at most 255 bytes');
    }
    const header = Buffer.from([KIND_USER_BROADCAST, topicBytes.length, eventBytes.length, metaBytes.length, 1]);
    return Buffer.concat([header, topicBytes, eventBytes, metaBytes, Buffer.from(broadcast.payloadJson)]);
  }
  const meta = broadcast.meta ? `,"meta":${JSON.stringify(broadcast.meta)}` : '';
  return `{"topic":${JSON.stringify(topic)},"event":"broadcast","payload":{"event":${JSON.stringify(broadcast.event)},`
    + `"payload":${broadcast.payloadJson},"type":"broadcast"${meta}},"ref":null}`;
}
