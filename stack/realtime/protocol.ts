/**
 * The Phoenix channel protocol of the embedded Realtime server (RealtimeWeb.UserSocket,
 * RealtimeWeb.RealtimeChannel, BroadcastHandler), Broadcast only.
 *
 * Socket: `GET /realtime/v1/websocket?apikey=<JWT>&vsn=1.0.0|2.0.0` (through the gateway). The apikey
 * must be a valid project JWT with `role` and `exp`, else the upgrade is answered 401
 * `{"error": "..."}`. No `vsn` means 1.0.0 (Phoenix's default); frames per serializer.ts.
 * Channels (topic `realtime:<name>`), per Phoenix message:
 *   heartbeat (topic "phoenix")  -> reply ok {}
 *   phx_join {config: {private, broadcast: {self, ack}, presence}, access_token}
 *                                 -> reply ok {postgres_changes: []}, or error {reason} worded as Realtime
 *                                    words it. Only private channels (the project setting "private
 *                                    only", which docs/realtime.md asks of hosted projects too). The
 *                                    token (access_token, else the apikey) is checked, then read access
 *                                    is probed under RLS (authorization.ts).
 *   access_token {access_token}  -> token replaced and read access probed again; a bad token or lost
 *                                    access closes the channel
 *   broadcast                    -> sent on to the topic's other subscribers (and the sender with
 *                                    broadcast.self) only if the write probe allows it; else dropped
 *                                    silently, as Realtime does; replied ok with broadcast.ack
 *   phx_leave                    -> reply ok, then phx_close (reply ok alone when not joined)
 * A channel is ended as Realtime's shutdown_response ends it: a `system` message {extension:
 * "system", status: "error", message, channel}, then `phx_close`.
 * Limits: a socket silent for 60 s (realtime-js heartbeats every 25 s) is dropped. Frames over 5 MB
 * close the socket, broadcast payloads over 3,000 KB are not sent (both Realtime's defaults). A socket
 * holds at most MAX_CHANNELS_PER_CLIENT joined channels (Realtime's default, 100); its messages are
 * handled one at a time, in order, as Phoenix's socket process handles them.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { type ChannelAuthorization, upgradeRefusal } from './authorization.ts';
import type { Extension } from './database.ts';
import { type Broadcast, decodeFrame, encodeMessage, encodeReply, type PhoenixMessage, type Vsn } from './serializer.ts';
import { type Channel, type Connection, send, type Subscriptions } from './subscriptions.ts';
import { joinRefusal } from './tokens.ts';
import type { JwtVerifier } from '../jwt.ts';

const IDLE_TIMEOUT_MS = 60_000;
/** Realtime's endpoint `max_frame_size`: a larger frame closes the socket (1009). */
const MAX_FRAME_BYTES = 5_000_000;
/** Realtime's default `max_payload_size_in_kb` (3000) plus its 500 bytes of padding, for a broadcast's payload. */
export const MAX_BROADCAST_PAYLOAD_BYTES = 3000 * 1000 + 500;
/** Realtime's TENANT_MAX_CHANNELS_PER_CLIENT default: more joined channels on one socket are refused. */
export const MAX_CHANNELS_PER_CLIENT = 100;

export class RealtimeSockets {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  readonly #connections = new Set<Connection>();
  readonly #idleTimer: NodeJS.Timeout;

  constructor(
    private readonly verifier: JwtVerifier,
    private readonly authorization: ChannelAuthorization,
    private readonly subscriptions: Subscriptions,
  ) {
    this.#idleTimer = setInterval(() => {
      const limit = Date.now() - IDLE_TIMEOUT_MS;
      for (const c of this.#connections) if (c.lastSeen < limit) c.ws.terminate();
    }, 10_000);
    this.#idleTimer.unref();
  }

  get connections(): ReadonlySet<Connection> { return this.#connections; }

  /** Handles an HTTP upgrade on /realtime/v1/websocket (the gateway has matched the path). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    // Node's HTTP server takes its own error listener off a socket it hands to 'upgrade': a client
    // resetting the connection while we refuse it would be an unhandled 'error' that ends the stack.
    const onError = () => socket.destroy();
    socket.on('error', onError);
    const vsnParam = url.searchParams.get('vsn') ?? '1.0.0';
    const refuse = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\ncontent-type: application/json\r\n`
        + `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    };
    if (vsnParam !== '1.0.0' && vsnParam !== '2.0.0') return refuse(400, { error: `Unsupported serializer version: ${vsnParam}` });
    const apikey = (req.headers['x-api-key'] as string | undefined) ?? url.searchParams.get('apikey');
    const refusal = upgradeRefusal(apikey, this.verifier);
    if (refusal) return refuse(refusal.status, refusal.body);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (name.startsWith('x-') && typeof value === 'string') headers[name] = value;
    socket.off('error', onError); // ws listens from here on
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, vsnParam, apikey!, headers));
  }

  #accept(ws: WebSocket, vsn: Vsn, apikey: string, headers: Record<string, string>) {
    const connection: Connection = { ws, vsn, apikey, channels: new Map(), lastSeen: Date.now(), headers };
    this.#connections.add(connection);
    // Phoenix's socket process takes one message at a time (a join finishes before the next frame is
    // read); handling them concurrently let two joins of one topic both subscribe, one of them
    // orphaned in the subscriptions: duplicate delivery and a leak that outlived the socket.
    let queue = Promise.resolve();
    ws.on('message', (data: RawData, isBinary: boolean) => {
      connection.lastSeen = Date.now();
      let message: PhoenixMessage;
      try {
        message = decodeFrame(vsn, toBuffer(data), isBinary);
      } catch {
        return; // Phoenix drops frames it cannot decode
      }
      queue = queue.then(() => this.#handle(connection, message)).catch(() => {});
    });
    ws.on('close', () => {
      this.#connections.delete(connection);
      for (const channel of connection.channels.values()) this.#unsubscribe(channel);
      connection.channels.clear();
    });
    ws.on('error', () => ws.terminate());
  }

  #reply(connection: Connection, m: PhoenixMessage, status: 'ok' | 'error', response: unknown) {
    send(connection, encodeReply(connection.vsn, m.joinRef, m.ref, m.topic, status, response));
  }

  async #handle(connection: Connection, m: PhoenixMessage): Promise<void> {
    if (m.topic === 'phoenix' && m.event === 'heartbeat') return this.#reply(connection, m, 'ok', {});
    if (m.event === 'phx_join') return this.#join(connection, m);
    const channel = connection.channels.get(m.topic);
    if (!channel || (m.joinRef !== null && channel.joinRef !== null && m.joinRef !== channel.joinRef)) {
      // Phoenix.Socket: leaving a topic without a channel is fine; anything else is an unmatched topic.
      if (m.event === 'phx_leave') return this.#reply(connection, m, 'ok', {});
      return this.#reply(connection, m, 'error', { reason: 'unmatched topic' });
    }
    switch (m.event) {
      case 'phx_leave':
        this.#reply(connection, m, 'ok', {});
        return this.close(channel);
      case 'access_token':
        return this.authorization.refresh(channel, (m.payload as { access_token?: unknown } | null)?.access_token);
      case 'broadcast':
        return this.#clientBroadcast(channel, m);
      default:
        return undefined; // Realtime logs and ignores other events
    }
  }

  async #join(connection: Connection, m: PhoenixMessage): Promise<void> {
    const refuse = (reason: string) => this.#reply(connection, m, 'error', { reason });
    if (!m.topic.startsWith('realtime:')) return refuse('unmatched topic');
    const subTopic = m.topic.slice('realtime:'.length);
    if (subTopic === '') return refuse('TopicNameRequired: You must provide a topic name');
    const previous = connection.channels.get(m.topic);
    if (previous) this.close(previous); // Phoenix closes a duplicate join's older channel
    const params = (m.payload ?? {}) as {
      config?: { private?: boolean; broadcast?: { self?: boolean; ack?: boolean }; presence?: { enabled?: boolean } };
      access_token?: unknown; user_token?: unknown;
    };
    const config = params.config ?? {};
    const token = typeof params.access_token === 'string' && !params.access_token.startsWith('sb_')
      ? params.access_token : typeof params.user_token === 'string' ? params.user_token : connection.apikey;
    if (config.private !== true) return refuse('PrivateOnly: This project only allows private channels');
    if (connection.channels.size >= MAX_CHANNELS_PER_CLIENT) return refuse('ChannelRateLimitReached: Too many channels');
    const check = this.authorization.checkToken(token);
    if (!check.ok) return refuse(joinRefusal(check));
    const channel: Channel = {
      connection, topic: m.topic, subTopic, joinRef: m.joinRef ?? m.ref, accessToken: token, claims: check.claims,
      read: { broadcast: undefined, presence: undefined }, write: undefined,
      self: config.broadcast?.self === true, ack: config.broadcast?.ack === true, headers: connection.headers,
      confirmTimer: undefined,
    };
    const extensions: Extension[] = config.presence?.enabled ? ['broadcast', 'presence'] : ['broadcast'];
    const denied = await this.authorization.authorizeRead(channel, extensions);
    if (denied) return refuse(denied);
    if (connection.ws.readyState !== WebSocket.OPEN) return undefined;
    connection.channels.set(m.topic, channel);
    this.subscriptions.add(channel);
    this.authorization.watch(channel);
    return this.#reply(connection, m, 'ok', { postgres_changes: [] });
  }

  async #clientBroadcast(channel: Channel, m: PhoenixMessage): Promise<void> {
    const broadcast = clientBroadcast(m.payload);
    if (!broadcast) return;
    if (!(await this.authorization.mayWrite(channel))) return;
    // BroadcastHandler, after the write check: too large a payload is not sent; with ack the reply is
    // {:error, :payload_size_exceeded}, which Phoenix encodes as the bare string.
    if (Buffer.byteLength(broadcast.payloadJson) > MAX_BROADCAST_PAYLOAD_BYTES) {
      if (channel.ack) this.#reply(channel.connection, m, 'error', 'payload_size_exceeded');
      return;
    }
    this.subscriptions.publish(channel.subTopic, true, broadcast, channel.self ? undefined : channel);
    if (channel.ack) this.#reply(channel.connection, m, 'ok', {});
  }

  /** system message, then phx_close: how Realtime's shutdown_response ends a channel. */
  shutdown(channel: Channel, message: string): void {
    send(channel.connection, encodeMessage(channel.connection.vsn, {
      joinRef: channel.joinRef, ref: null, topic: channel.topic, event: 'system',
      payload: { extension: 'system', status: 'error', message, channel: channel.subTopic },
    }));
    this.close(channel);
  }

  close(channel: Channel): void {
    const { connection } = channel;
    if (connection.channels.get(channel.topic) === channel) connection.channels.delete(channel.topic);
    this.#unsubscribe(channel);
    send(connection, encodeMessage(connection.vsn, {
      joinRef: channel.joinRef, ref: channel.joinRef, topic: channel.topic, event: 'phx_close', payload: {},
    }));
  }

  #unsubscribe(channel: Channel) {
    this.authorization.unwatch(channel);
    this.subscriptions.remove(channel);
  }

  /** Drops every socket (clients reconnect by themselves). */
  disconnectAll(): void {
    for (const connection of this.#connections) {
      for (const channel of connection.channels.values()) this.authorization.unwatch(channel);
      connection.ws.terminate();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#idleTimer);
    this.disconnectAll();
    this.#connections.clear();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data as ArrayBuffer);
}

/** The broadcast a client pushed: a decoded kind-3 frame, or a JSON `{type, event, payload}`. */
function clientBroadcast(payload: unknown): Broadcast | undefined {
  const p = payload as { userBroadcast?: Broadcast; event?: unknown; payload?: unknown } | null;
  if (p?.userBroadcast) return { event: p.userBroadcast.event, payloadJson: p.userBroadcast.payloadJson };
  if (p && typeof p.event === 'string') return { event: p.event, payloadJson: JSON.stringify(p.payload ?? {}) };
  return undefined;
}
