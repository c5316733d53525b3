/**
 * The embedded stack's stand-in for Supabase Realtime, Broadcast only, held to Realtime's contract
 * (supabase/realtime: RealtimeWeb.UserSocket, RealtimeWeb.RealtimeChannel, BroadcastHandler) so that
 * unmodified supabase-js works against it.
 *
 * Socket: `GET /realtime/v1/websocket?apikey=<JWT>&vsn=1.0.0|2.0.0` (through the gateway). The apikey
 * must be a valid project JWT with `role` and `exp`, else the upgrade is answered 401
 * `{"error": "..."}`. No `vsn` means 1.0.0 (Phoenix's default).
 * Channels (topic `realtime:<name>`), per Phoenix message:
 *   heartbeat (topic "phoenix")  -> reply ok {}
 *   phx_join {config: {private, broadcast: {self, ack}, presence}, access_token}
 *                                 -> reply ok {postgres_changes: []}, or error {reason} worded as Realtime
 *                                    words it. Only private channels (the project setting "private
 *                                    only", which docs/realtime.md asks of hosted projects too). The
 *                                    token (access_token, else the apikey) is checked, then read access
 *                                    is probed under RLS (database.ts).
 *   access_token {access_token}  -> token replaced and read access probed again; a bad token or lost
 *                                    access closes the channel
 *   broadcast                    -> sent on to the topic's other subscribers (and the sender with
 *                                    broadcast.self) only if the write probe allows it; else dropped
 *                                    silently, as Realtime does; replied ok with broadcast.ack
 *   phx_leave                    -> reply ok, then phx_close (reply ok alone when not joined)
 * A channel whose token expires is closed as Realtime closes it: a `system` message
 * {extension: "system", status: "error", message: "Token has expired N seconds ago", channel}, then
 * `phx_close`. The token is re-checked at its expiry or every 5 minutes, whichever comes first.
 * Delivery: every broadcast committed to realtime.messages reaches each subscriber of its topic (and
 * privacy) in commit order; one frame is encoded per topic and serializer, not per subscriber.
 * A socket silent for 60 s (realtime-js heartbeats every 25 s) is dropped. Frames over 5 MB close the
 * socket, broadcast payloads over 3,000 KB are not sent (both Realtime's defaults). A socket holds at most
 * MAX_CHANNELS_PER_CLIENT joined channels (Realtime's default, 100); its messages are handled one at
 * a time, in order, as Phoenix's socket process handles them.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { AuthorizationError, type Extension, type RealtimeDatabase } from './database.ts';
import { type Broadcast, decodeFrame, encodeBroadcast, encodeMessage, encodeReply, type PhoenixMessage, type Vsn } from './serializer.ts';
import type { JwtVerifier } from '../jwt.ts';
import { checkToken, joinRefusal } from './tokens.ts';
import { type ServiceHandler, serviceHandler } from '../http.ts';
import { createBroadcastApi } from './http-api.ts';

const CONFIRM_TOKEN_INTERVAL_MS = 5 * 60_000;
const IDLE_TIMEOUT_MS = 60_000;
/** Realtime's endpoint `max_frame_size`: a larger frame closes the socket (1009). */
const MAX_FRAME_BYTES = 5_000_000;
/** Realtime's default `max_payload_size_in_kb` (3000) plus its 500 bytes of padding, for a broadcast's payload. */
export const MAX_BROADCAST_PAYLOAD_BYTES = 3000 * 1000 + 500;
/** Realtime's TENANT_MAX_CHANNELS_PER_CLIENT default: more joined channels on one socket are refused. */
export const MAX_CHANNELS_PER_CLIENT = 100;

interface Channel {
  connection: Connection;
  topic: string;
  subTopic: string;
  joinRef: string | null;
  accessToken: string;
  claims: Record<string, unknown> & { role: string; exp: number };
  read: Record<Extension, boolean | undefined>;
  /** Write access, probed at the first broadcast this channel sends. */
  write: boolean | undefined;
  self: boolean;
  ack: boolean;
  headers: Record<string, string>;
  confirmTimer: NodeJS.Timeout | undefined;
}

interface Connection {
  ws: WebSocket;
  vsn: Vsn;
  apikey: string;
  channels: Map<string, Channel>;
  lastSeen: number;
  headers: Record<string, string>;
}

export interface RealtimeServerOptions {
  /** The stack's key set: HS256 secret, or the signing keys' public parts. */
  verifier: JwtVerifier;
  database: RealtimeDatabase;
}

export class RealtimeServer {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  readonly #db: RealtimeDatabase;
  readonly #verifier: JwtVerifier;
  /** `${private ? 'private' : 'public'}:${subTopic}` -> its channels. */
  readonly #subscribers = new Map<string, Set<Channel>>();
  readonly #connections = new Set<Connection>();
  readonly #idleTimer: NodeJS.Timeout;

  constructor(options: RealtimeServerOptions) {
    this.#db = options.database;
    this.#verifier = options.verifier;
    this.#idleTimer = setInterval(() => {
      const limit = Date.now() - IDLE_TIMEOUT_MS;
      for (const c of this.#connections) if (c.lastSeen < limit) c.ws.terminate();
    }, 10_000);
    this.#idleTimer.unref();
  }

  get database(): RealtimeDatabase { return this.#db; }
  get verifier(): JwtVerifier { return this.#verifier; }
  /** The HTTP broadcast API (http-api.ts), for the gateway's /realtime/v1 route. */
  readonly handleHttp: ServiceHandler = serviceHandler(createBroadcastApi(this));

  /** Counts for benchmarks and tests of this server alone. */
  stats() {
    let channels = 0;
    for (const c of this.#connections) channels += c.channels.size;
    return { connections: this.#connections.size, channels };
  }

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
    if (!apikey) return refuse(401, { error: 'API key is missing' });
    const check = checkToken(apikey, this.#verifier);
    if (!check.ok) {
      return refuse(401, { error: check.error === 'expired_token' ? 'Token has expired' : check.message });
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (name.startsWith('x-') && typeof value === 'string') headers[name] = value;
    socket.off('error', onError); // ws listens from here on
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, vsnParam, apikey, headers));
  }

  #accept(ws: WebSocket, vsn: Vsn, apikey: string, headers: Record<string, string>) {
    const connection: Connection = { ws, vsn, apikey, channels: new Map(), lastSeen: Date.now(), headers };
    this.#connections.add(connection);
    // Phoenix's socket process takes one message at a time (a join finishes before the next frame is
    // read); handling them concurrently let two joins of one topic both subscribe, one of them
    // orphaned in #subscribers: duplicate delivery and a leak that outlived the socket.
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

  #send(connection: Connection, frame: string | Buffer) {
    if (connection.ws.readyState === WebSocket.OPEN) connection.ws.send(frame);
  }

  #reply(connection: Connection, m: PhoenixMessage, status: 'ok' | 'error', response: unknown) {
    this.#send(connection, encodeReply(connection.vsn, m.joinRef, m.ref, m.topic, status, response));
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
        return this.#close(channel);
      case 'access_token':
        return this.#refreshToken(channel, (m.payload as { access_token?: unknown } | null)?.access_token);
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
    if (previous) this.#close(previous); // Phoenix closes a duplicate join's older channel
    const params = (m.payload ?? {}) as {
      config?: { private?: boolean; broadcast?: { self?: boolean; ack?: boolean }; presence?: { enabled?: boolean } };
      access_token?: unknown; user_token?: unknown;
    };
    const config = params.config ?? {};
    const token = typeof params.access_token === 'string' && !params.access_token.startsWith('sb_')
      ? params.access_token : typeof params.user_token === 'string' ? params.user_token : connection.apikey;
    if (config.private !== true) return refuse('PrivateOnly: This project only allows private channels');
    if (connection.channels.size >= MAX_CHANNELS_PER_CLIENT) return refuse('ChannelRateLimitReached: Too many channels');
    const check = checkToken(token, this.#verifier);
    if (!check.ok) return refuse(joinRefusal(check));
    const channel: Channel = {
      connection, topic: m.topic, subTopic, joinRef: m.joinRef ?? m.ref, accessToken: token, claims: check.claims,
      read: { broadcast: undefined, presence: undefined }, write: undefined,
      self: config.broadcast?.self === true, ack: config.broadcast?.ack === true, headers: connection.headers,
      confirmTimer: undefined,
    };
    const extensions: Extension[] = config.presence?.enabled ? ['broadcast', 'presence'] : ['broadcast'];
    const denied = await this.#authorizeRead(channel, extensions);
    if (denied) return refuse(denied);
    if (connection.ws.readyState !== WebSocket.OPEN) return undefined;
    connection.channels.set(m.topic, channel);
    this.#subscribe(channel);
    this.#scheduleConfirm(channel);
    return this.#reply(connection, m, 'ok', { postgres_changes: [] });
  }

  /** Probes read access; undefined when granted, else the refusal's wording. */
  async #authorizeRead(channel: Channel, extensions: Extension[]): Promise<string | undefined> {
    const unauthorized = `Unauthorized: You do not have permissions to read from this Channel topic: ${channel.subTopic}`;
    try {
      channel.read = await this.#db.readAuthorizations(this.#context(channel), extensions);
    } catch (error) {
      if (error instanceof AuthorizationError && error.kind === 'rls_policy_error') return unauthorized;
      if (error instanceof AuthorizationError && error.kind === 'missing_partition') {
        return 'MissingPartition: Realtime was unable to find the expected messages partition';
      }
      return 'UnableToConnectToProject: Realtime was unable to connect to the project database';
    }
    return channel.read.broadcast || channel.read.presence ? undefined : unauthorized;
  }

  #context(channel: Channel) {
    return { topic: channel.subTopic, role: channel.claims.role, claims: channel.claims, headers: channel.headers };
  }

  #scheduleConfirm(channel: Channel) {
    if (channel.confirmTimer) clearTimeout(channel.confirmTimer);
    const remainingMs = (channel.claims.exp - Math.floor(Date.now() / 1000)) * 1000;
    channel.confirmTimer = setTimeout(() => this.#confirmToken(channel), Math.max(0, Math.min(CONFIRM_TOKEN_INTERVAL_MS, remainingMs)));
    channel.confirmTimer.unref();
  }

  #confirmToken(channel: Channel) {
    if (channel.connection.channels.get(channel.topic) !== channel) return;
    const check = checkToken(channel.accessToken, this.#verifier);
    if (!check.ok) return this.#shutdown(channel, check.message);
    channel.claims = check.claims;
    return this.#scheduleConfirm(channel);
  }

  async #refreshToken(channel: Channel, token: unknown): Promise<void> {
    if (typeof token !== 'string' || token.startsWith('sb_') || token === channel.accessToken) return;
    const check = checkToken(token, this.#verifier);
    if (!check.ok) return this.#shutdown(channel, check.message);
    const hadRead = channel.read;
    channel.accessToken = token;
    channel.claims = check.claims;
    channel.write = undefined;
    const extensions = (Object.keys(hadRead) as Extension[]).filter((e) => hadRead[e] !== undefined);
    const denied = await this.#authorizeRead(channel, extensions);
    if (denied?.startsWith('UnableToConnect') || denied?.startsWith('MissingPartition')) {
      return this.#shutdown(channel, 'Realtime was unable to connect to the project database');
    }
    const revoked = extensions.some((e) => hadRead[e] === true && channel.read[e] !== true);
    if (revoked) return this.#shutdown(channel, `You no longer have permission to read from this Channel topic: ${channel.subTopic}`);
    return this.#scheduleConfirm(channel);
  }

  async #clientBroadcast(channel: Channel, m: PhoenixMessage): Promise<void> {
    const broadcast = clientBroadcast(m.payload);
    if (!broadcast) return;
    if (channel.write === undefined) {
      try {
        channel.write = await this.#db.writeAuthorization(this.#context(channel));
      } catch {
        return; // Realtime logs and drops
      }
    }
    if (!channel.write) return;
    // BroadcastHandler, after the write check: too large a payload is not sent; with ack the reply is
    // {:error, :payload_size_exceeded}, which Phoenix encodes as the bare string.
    if (Buffer.byteLength(broadcast.payloadJson) > MAX_BROADCAST_PAYLOAD_BYTES) {
      if (channel.ack) this.#reply(channel.connection, m, 'error', 'payload_size_exceeded');
      return;
    }
    this.publish(channel.subTopic, true, broadcast, channel.self ? undefined : channel);
    if (channel.ack) this.#reply(channel.connection, m, 'ok', {});
  }

  /** system message, then phx_close: how Realtime's shutdown_response ends a channel. */
  #shutdown(channel: Channel, message: string) {
    this.#send(channel.connection, encodeMessage(channel.connection.vsn, {
      joinRef: channel.joinRef, ref: null, topic: channel.topic, event: 'system',
      payload: { extension: 'system', status: 'error', message, channel: channel.subTopic },
    }));
    this.#close(channel);
  }

  #close(channel: Channel) {
    const { connection } = channel;
    if (connection.channels.get(channel.topic) === channel) connection.channels.delete(channel.topic);
    this.#unsubscribe(channel);
    this.#send(connection, encodeMessage(connection.vsn, {
      joinRef: channel.joinRef, ref: channel.joinRef, topic: channel.topic, event: 'phx_close', payload: {},
    }));
  }

  #subscribe(channel: Channel) {
    const key = `private:${channel.subTopic}`;
    let set = this.#subscribers.get(key);
    if (!set) this.#subscribers.set(key, set = new Set());
    set.add(channel);
  }

  #unsubscribe(channel: Channel) {
    if (channel.confirmTimer) clearTimeout(channel.confirmTimer);
    const key = `private:${channel.subTopic}`;
    const set = this.#subscribers.get(key);
    if (set?.delete(channel) && set.size === 0) this.#subscribers.delete(key);
  }

  /** Sends a broadcast to every subscriber of `subTopic` with read access (except `except`). */
  publish(subTopic: string, isPrivate: boolean, broadcast: Broadcast, except?: Channel): void {
    const set = this.#subscribers.get(`${isPrivate ? 'private' : 'public'}:${subTopic}`);
    if (!set) return;
    // null: the broadcast has no frame in that serializer (V2 caps topic, event and metadata at 255
    // bytes, as Realtime's V2Serializer does); those subscribers miss it, the others still get it,
    // and the sender (HTTP API, websocket, database) is not failed by it.
    const frames: Partial<Record<Vsn, string | Buffer | null>> = {};
    const topic = `realtime:${subTopic}`;
    for (const channel of set) {
      if (channel === except || channel.read.broadcast !== true) continue;
      const { vsn } = channel.connection;
      if (frames[vsn] === undefined) {
        try {
          frames[vsn] = encodeBroadcast(vsn, topic, broadcast);
        } catch {
          frames[vsn] = null;
        }
      }
      const frame = frames[vsn];
      if (frame !== null) this.#send(channel.connection, frame);
    }
  }

  /** Starts delivering committed broadcasts. */
  async start(): Promise<void> {
    await this.#db.maintainPartitions();
    // A gap the listener cannot replay: drop every socket, so that clients rejoin and catch up.
    await this.#db.listen((message) => this.publish(message.topic, message.private,
      { event: message.event, payloadJson: message.payloadJson, meta: { id: message.id } }), () => this.disconnectAll());
  }

  /** Each joined channel's claims and topic, with a way to shut it down (sessions.ts: ended Auth sessions). */
  *joinedChannels(): Generator<{ claims: Channel['claims']; subTopic: string; shutdown: (message: string) => void }> {
    for (const c of this.#connections) for (const ch of [...c.channels.values()]) yield { ...ch, shutdown: (m) => this.#shutdown(ch, m) };
  }

  /** Drops every socket (clients reconnect by themselves), as a restart of Realtime would. */
  disconnectAll(): void {
    for (const connection of this.#connections) {
      for (const channel of connection.channels.values()) if (channel.confirmTimer) clearTimeout(channel.confirmTimer);
      connection.ws.terminate();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#idleTimer);
    for (const connection of this.#connections) {
      for (const channel of connection.channels.values()) if (channel.confirmTimer) clearTimeout(channel.confirmTimer);
      connection.ws.terminate();
    }
    this.#connections.clear();
    this.#subscribers.clear();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await this.#db.close();
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
