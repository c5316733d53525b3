/**
 * Channels of ended Auth sessions (issue 19, docs/devices.md): Realtime authorizes a channel when it
 * is joined (and again on an access_token refresh), so a revoked or signed-out device would keep
 * receiving pokes on a channel joined before. The embedded Realtime closes such channels:
 *
 * - at once when public.revoke_device ends a session: its NOTIFY (SESSION_ENDED_CHANNEL, delivered
 *   at commit) names the session, and every channel whose token carries that `session_id` is shut
 *   down with Realtime's wording for lost access (system message, then phx_close);
 * - within SESSION_CHECK_MS for a session that ended otherwise (sign-out, refresh-token reuse, a
 *   deleted user): one query per check, for the distinct session ids of the joined channels, asks
 *   auth.sessions which are gone. No channel, no query.
 *
 * A join from an ended session is refused by the join's RLS probe itself (private.caller_id raises).
 * Hosted Supabase Realtime does neither (docs/devices.md says what that leaves open).
 */
import type { RealtimeDatabase } from './database.ts';
import type { RealtimeServer } from './server.ts';

export const SESSION_CHECK_MS = 2_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sessionOf = (claims: Record<string, unknown>) =>
  typeof claims.session_id === 'string' && UUID.test(claims.session_id) ? claims.session_id.toLowerCase() : undefined;

/** Shuts down the channels whose token names one of `ended`. */
export function closeChannelsOf(server: RealtimeServer, ended: ReadonlySet<string>): number {
  let closed = 0;
  for (const channel of server.joinedChannels()) {
    const session = sessionOf(channel.claims);
    if (session === undefined || !ended.has(session)) continue;
    channel.shutdown(`You no longer have permission to read from this Channel topic: ${channel.subTopic}`);
    closed++;
  }
  return closed;
}

/** Starts both watches; returns their stop. */
export function watchEndedSessions(server: RealtimeServer, db: RealtimeDatabase): () => void {
  db.onSessionEnded = (sessionId) => { closeChannelsOf(server, new Set([sessionId.toLowerCase()])); };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    const sessions = new Set<string>();
    for (const channel of server.joinedChannels()) {
      const session = sessionOf(channel.claims);
      if (session) sessions.add(session);
    }
    if (sessions.size === 0) return;
    running = true;
    db.sql<{ id: string }[]>`
      select s::text as id from unnest(${[...sessions]}::uuid[]) as s
      where not exists (select 1 from auth.sessions a where a.id = s)`
      .then((rows) => { if (rows.length > 0) closeChannelsOf(server, new Set(rows.map((r) => r.id))); })
      .catch(() => { /* the database is away: the next check tries again */ })
      .finally(() => { running = false; });
  }, SESSION_CHECK_MS);
  timer.unref();
  return () => { clearInterval(timer); db.onSessionEnded = undefined; };
}
