/**
 * Who may do what on the embedded Realtime server, as Supabase Realtime decides it
 * (RealtimeWeb.UserSocket, RealtimeWeb.RealtimeChannel, Realtime.Tenants.Authorization):
 *   - the socket: its apikey (the `x-api-key` header or `?apikey=`) must be a project JWT with
 *     `role` and `exp` (tokens.ts), else the upgrade is refused 401 `{"error"}`;
 *   - a join: the channel's token (tokens.ts), then read access probed under RLS (database.ts);
 *   - a client's broadcast: write access, probed once per token at the first broadcast;
 *   - while joined: the token is re-checked at its expiry or every 5 minutes, whichever comes
 *     first; an `access_token` message replaces it and probes read access again. A bad token or
 *     lost access shuts the channel down with Realtime's wording.
 */
import type { JwtVerifier } from '../jwt.ts';
import { AuthorizationError, type Extension, type RealtimeDatabase } from './database.ts';
import type { Channel } from './subscriptions.ts';
import { checkToken, type TokenCheck } from './tokens.ts';

const CONFIRM_TOKEN_INTERVAL_MS = 5 * 60_000;

/** The upgrade's refusal (status and body) for a missing or bad apikey; undefined when accepted. */
export function upgradeRefusal(apikey: string | null, verifier: JwtVerifier): { status: 401; body: { error: string } } | undefined {
  if (!apikey) return { status: 401, body: { error: 'API key is missing' } };
  const check = checkToken(apikey, verifier);
  if (check.ok) return undefined;
  return { status: 401, body: { error: check.error === 'expired_token' ? 'Token has expired' : check.message } };
}

export class ChannelAuthorization {
  constructor(
    private readonly db: RealtimeDatabase,
    private readonly verifier: JwtVerifier,
    /** Ends a channel with a system message (protocol.ts). */
    private readonly shutdown: (channel: Channel, message: string) => void,
  ) {}

  checkToken(token: unknown): TokenCheck {
    return checkToken(token, this.verifier);
  }

  /** What the database's RLS probes see of a channel. */
  context(channel: Channel) {
    return { topic: channel.subTopic, role: channel.claims.role, claims: channel.claims, headers: channel.headers };
  }

  /** Probes read access; undefined when granted, else the refusal's wording. */
  async authorizeRead(channel: Channel, extensions: Extension[]): Promise<string | undefined> {
    const unauthorized = `Unauthorized: You do not have permissions to read from this Channel topic: ${channel.subTopic}`;
    try {
      channel.read = await this.db.readAuthorizations(this.context(channel), extensions);
    } catch (error) {
      if (error instanceof AuthorizationError && error.kind === 'rls_policy_error') return unauthorized;
      if (error instanceof AuthorizationError && error.kind === 'missing_partition') {
        return 'MissingPartition: Realtime was unable to find the expected messages partition';
      }
      return 'UnableToConnectToProject: Realtime was unable to connect to the project database';
    }
    return channel.read.broadcast || channel.read.presence ? undefined : unauthorized;
  }

  /** Write access of the channel's token, probed once; false when the probe fails (Realtime logs and drops). */
  async mayWrite(channel: Channel): Promise<boolean> {
    if (channel.write === undefined) {
      try {
        channel.write = await this.db.writeAuthorization(this.context(channel));
      } catch {
        return false;
      }
    }
    return channel.write;
  }

  /** Schedules the next check of the channel's token. */
  watch(channel: Channel): void {
    this.unwatch(channel);
    const remainingMs = (channel.claims.exp - Math.floor(Date.now() / 1000)) * 1000;
    channel.confirmTimer = setTimeout(() => this.#confirm(channel), Math.max(0, Math.min(CONFIRM_TOKEN_INTERVAL_MS, remainingMs)));
    channel.confirmTimer.unref();
  }

  unwatch(channel: Channel): void {
    if (channel.confirmTimer) clearTimeout(channel.confirmTimer);
  }

  #confirm(channel: Channel) {
    if (channel.connection.channels.get(channel.topic) !== channel) return;
    const check = this.checkToken(channel.accessToken);
    if (!check.ok) return this.shutdown(channel, check.message);
    channel.claims = check.claims;
    return this.watch(channel);
  }

  /** An `access_token` message: the new token replaces the channel's, and read access is probed again. */
  async refresh(channel: Channel, token: unknown): Promise<void> {
    if (typeof token !== 'string' || token.startsWith('sb_') || token === channel.accessToken) return;
    const check = this.checkToken(token);
    if (!check.ok) return this.shutdown(channel, check.message);
    const hadRead = channel.read;
    channel.accessToken = token;
    channel.claims = check.claims;
    channel.write = undefined;
    const extensions = (Object.keys(hadRead) as Extension[]).filter((e) => hadRead[e] !== undefined);
    const denied = await this.authorizeRead(channel, extensions);
    if (denied?.startsWith('UnableToConnect') || denied?.startsWith('MissingPartition')) {
      return this.shutdown(channel, 'Realtime was unable to connect to the project database');
    }
    const revoked = extensions.some((e) => hadRead[e] === true && channel.read[e] !== true);
    if (revoked) return this.shutdown(channel, `You no longer have permission to read from this Channel topic: ${channel.subTopic}`);
    return this.watch(channel);
  }
}
