/**
 * Subscriptions of the embedded Realtime server: the sockets and their joined channels, which
 * channels hear which topic, and the fan-out of a broadcast to them.
 *
 * Invariants: a channel is in the registry exactly while it is joined (protocol.ts adds it after a
 * granted join and removes it on leave, close or socket end); a broadcast reaches only channels
 * whose read access was granted (`read.broadcast === true`); one frame is encoded per topic and
 * serializer version, not per subscriber. A frame the serializer cannot encode (V2 caps topic,
 * event and metadata at 255 bytes, as Realtime's V2Serializer does) is not sent to that version's
 * subscribers; the others still get it, and the sender is not failed by it.
 */
import { WebSocket } from 'ws';
import type { Extension } from './database.ts';
import { type Broadcast, encodeBroadcast, type Vsn } from './serializer.ts';

export interface Connection {
  ws: WebSocket;
  vsn: Vsn;
  apikey: string;
  channels: Map<string, Channel>;
  lastSeen: number;
  headers: Record<string, string>;
}

export interface Channel {
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
  /** The next check of the channel's token (authorization.ts). */
  confirmTimer: NodeJS.Timeout | undefined;
}

/** Sends a frame if the socket is still open. */
export function send(connection: Connection, frame: string | Buffer): void {
  if (connection.ws.readyState === WebSocket.OPEN) connection.ws.send(frame);
}

const keyOf = (isPrivate: boolean, subTopic: string) => `${isPrivate ? 'private' : 'public'}:${subTopic}`;

export class Subscriptions {
  /** `${private ? 'private' : 'public'}:${subTopic}` -> its channels (only private ones are joined). */
  readonly #byTopic = new Map<string, Set<Channel>>();

  add(channel: Channel): void {
    const key = keyOf(true, channel.subTopic);
    let set = this.#byTopic.get(key);
    if (!set) this.#byTopic.set(key, set = new Set());
    set.add(channel);
  }

  remove(channel: Channel): void {
    const key = keyOf(true, channel.subTopic);
    const set = this.#byTopic.get(key);
    if (set?.delete(channel) && set.size === 0) this.#byTopic.delete(key);
  }

  clear(): void {
    this.#byTopic.clear();
  }

  /** Sends a broadcast to every subscriber of `subTopic` with read access (except `except`). */
  publish(subTopic: string, isPrivate: boolean, broadcast: Broadcast, except?: Channel): void {
    const set = this.#byTopic.get(keyOf(isPrivate, subTopic));
    if (!set) return;
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
      if (frame !== null) send(channel.connection, frame);
    }
  }
}
