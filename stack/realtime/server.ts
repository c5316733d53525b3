/**
 * The embedded stack's stand-in for Supabase Realtime, Broadcast only, held to Realtime's contract
 * (supabase/realtime: RealtimeWeb.UserSocket, RealtimeWeb.RealtimeChannel, BroadcastHandler) so that
 * unmodified supabase-js works against it. This module wires its parts and owns their lifecycle:
 *   protocol.ts       the websocket and Phoenix channel protocol (joins, leaves, client broadcasts)
 *   authorization.ts  the socket's key, each channel's token and RLS probes, token expiry
 *   subscriptions.ts  which channels hear which topic, and the fan-out of a broadcast
 *   http-api.ts       the HTTP broadcast API; database.ts the database side (probes, delivery)
 * Delivery: every broadcast committed to realtime.messages reaches each subscriber of its topic (and
 * privacy) in commit order (database.ts listens; publish fans out).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { JwtVerifier } from '../jwt.ts';
import { type ServiceHandler, serviceHandler } from '../http.ts';
import { ChannelAuthorization } from './authorization.ts';
import type { RealtimeDatabase } from './database.ts';
import { createBroadcastApi } from './http-api.ts';
import { RealtimeSockets } from './protocol.ts';
import type { Broadcast } from './serializer.ts';
import { type Channel, Subscriptions } from './subscriptions.ts';

export { MAX_BROADCAST_PAYLOAD_BYTES, MAX_CHANNELS_PER_CLIENT } from './protocol.ts';

export interface RealtimeServerOptions {
  /** The stack's key set: HS256 secret, or the signing keys' public parts. */
  verifier: JwtVerifier;
  database: RealtimeDatabase;
}

export class RealtimeServer {
  readonly #db: RealtimeDatabase;
  readonly #verifier: JwtVerifier;
  readonly #subscriptions = new Subscriptions();
  readonly #sockets: RealtimeSockets;

  constructor(options: RealtimeServerOptions) {
    this.#db = options.database;
    this.#verifier = options.verifier;
    const authorization = new ChannelAuthorization(this.#db, this.#verifier,
      (channel, message) => this.#sockets.shutdown(channel, message));
    this.#sockets = new RealtimeSockets(this.#verifier, authorization, this.#subscriptions);
  }

  get database(): RealtimeDatabase { return this.#db; }
  get verifier(): JwtVerifier { return this.#verifier; }
  /** The HTTP broadcast API (http-api.ts), for the gateway's /realtime/v1 route. */
  readonly handleHttp: ServiceHandler = serviceHandler(createBroadcastApi(this));

  /** Counts for benchmarks and tests of this server alone. */
  stats() {
    let channels = 0;
    for (const c of this.#sockets.connections) channels += c.channels.size;
    return { connections: this.#sockets.connections.size, channels };
  }

  /** Handles an HTTP upgrade on /realtime/v1/websocket (the gateway has matched the path). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    this.#sockets.handleUpgrade(req, socket, head, url);
  }

  /** Sends a broadcast to every subscriber of `subTopic` with read access (except `except`). */
  publish(subTopic: string, isPrivate: boolean, broadcast: Broadcast, except?: Channel): void {
    this.#subscriptions.publish(subTopic, isPrivate, broadcast, except);
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
    for (const c of this.#sockets.connections) {
      for (const ch of [...c.channels.values()]) yield { ...ch, shutdown: (m) => this.#sockets.shutdown(ch, m) };
    }
  }

  /** Drops every socket (clients reconnect by themselves), as a restart of Realtime would. */
  disconnectAll(): void {
    this.#sockets.disconnectAll();
  }

  async stop(): Promise<void> {
    await this.#sockets.stop();
    this.#subscriptions.clear();
    await this.#db.close();
  }
}
