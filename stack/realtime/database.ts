/**
 * What the embedded Realtime server asks of the database, done as Supabase Realtime does it
 * (supabase/realtime: Realtime.Tenants.Authorization, Realtime.Tenants.create_messages_partitions):
 *
 * - Read authorization: in one transaction, insert a probe row into realtime.messages per extension
 *   (as the server's own role), then `set_config` role, realtime.topic, request.jwt.claims (and the
 *   claim.sub / claim.role / request.headers Realtime also sets) and SELECT the probes back under
 *   RLS; always rolled back. A probe that comes back grants `read` for its extension.
 * - Write authorization: same settings, then INSERT a probe under RLS in a savepoint; a 42501
 *   (insufficient privilege, which is what an RLS WITH CHECK failure raises) means no `write`.
 * - Partitions of realtime.messages: one per UTC day, from yesterday to three days ahead, made on
 *   start and hourly; partitions older than three days are dropped (Realtime keeps 72 hours).
 * - Delivery: LISTEN on the channel the embedded-only trigger of sql/bootstrap/realtime.sql
 *   notifies at commit; large messages are read back by id.
 * - No lost message when the listening connection drops (Realtime itself resumes from its
 *   replication slot): the listener reconnects (backing off, until closed), LISTENs again, then
 *   replays from realtime.messages every broadcast inserted since REPLAY_MARGIN_S before the newest
 *   one it delivered, skipping the ids it already delivered (kept for that window). NOTIFY order is
 *   commit order; inserted_at is its transaction's start, so the margin covers transactions that
 *   ran up to REPLAY_MARGIN_S (a push runs milliseconds; API roles time out after 8 s). Should the
 *   replay fail or exceed REPLAY_LIMIT rows, `onGap` is called: the server then closes every socket,
 *   so clients rejoin and catch up by pulling.
 */
import postgres from 'postgres';

export const NOTIFY_CHANNEL = 'realtime_embedded_broadcast';
/** What public.revoke_device notifies at commit, with the ended session's id (issue 19). */
export const SESSION_ENDED_CHANNEL = 'haex_session_ended';
/** Replay window before the newest delivered message (seconds of inserted_at). */
export const REPLAY_MARGIN_S = 30;
/** Most messages one replay delivers; beyond it the gap is handed to `onGap`. */
export const REPLAY_LIMIT = 10_000;
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2_000;

export interface AuthorizationContext {
  topic: string;
  role: string;
  claims: Record<string, unknown>;
  headers?: Record<string, string>;
}

export type Extension = 'broadcast' | 'presence';

/** Realtime's {:error, :rls_policy_error, _} / missing partition / database unavailable. */
export class AuthorizationError extends Error {
  constructor(readonly kind: 'rls_policy_error' | 'missing_partition' | 'database_unavailable', message: string) {
    super(message);
  }
}

export interface CommittedBroadcast {
  id: string;
  topic: string;
  event: string;
  private: boolean;
  /** The payload as JSON text. */
  payloadJson: string;
}

const ROLLBACK = Symbol('rollback');

export class RealtimeDatabase {
  readonly sql: postgres.Sql;
  readonly #url: string;
  #listener: postgres.Sql | undefined;
  #partitionTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #chain: Promise<void> = Promise.resolve();
  #deliver: ((message: CommittedBroadcast) => void) | undefined;
  #onGap: (() => void) | undefined;
  /** Ids delivered, in delivery order, with their inserted_at (epoch s), back to newest - margin. */
  readonly #recent = new Map<string, number>();
  /** inserted_at (epoch s) of the newest message delivered, or of the first LISTEN. */
  #watermark = 0;
  /** Called with the id of an Auth session that revoke_device ended (its NOTIFY, at commit; sessions.ts). */
  onSessionEnded: ((sessionId: string) => void) | undefined;
  /** Times the listener has LISTENed (1 after the first). */
  listens = 0;

  constructor(url: string) {
    this.#url = url;
    this.sql = postgres(url, {
      max: 4, onnotice: () => {}, idle_timeout: 60, connection: { application_name: 'realtime_embedded' },
    });
  }

  /** Creates today's partitions (and the neighbours) now and every hour. */
  async maintainPartitions(): Promise<void> {
    await this.createPartitions();
    this.#partitionTimer = setInterval(() => { this.createPartitions().catch(() => {}); }, 3_600_000);
    this.#partitionTimer.unref();
  }

  async createPartitions(now = new Date()): Promise<void> {
    const day = (offset: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + offset));
    const iso = (d: Date) => d.toISOString().slice(0, 10);
    for (let offset = -1; offset <= 3; offset++) {
      const start = iso(day(offset));
      const name = `messages_${start.replaceAll('-', '_')}`;
      await this.sql.begin(async (sql) => {
        await sql.unsafe(`create table if not exists realtime.${name} partition of realtime.messages
          for values from ('${start}') to ('${iso(day(offset + 1))}')`);
        await sql.unsafe(`alter table realtime.${name} owner to supabase_realtime_admin`);
      }).catch((error: { code?: string }) => { if (error.code !== '42P07') throw error; });
    }
    const old = await this.sql<{ name: string }[]>`
      select c.relname as name from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'realtime.messages'::regclass and c.relname ~ '^messages_\\d{4}_\\d{2}_\\d{2}$'`;
    const oldest = iso(day(-3)).replaceAll('-', '_');
    for (const { name } of old) {
      if (name.slice('messages_'.length) < oldest) await this.sql.unsafe(`drop table if exists realtime.${name}`);
    }
  }

  /** Which extensions the context may read on its topic. */
  async readAuthorizations(context: AuthorizationContext, extensions: Extension[]): Promise<Record<Extension, boolean | undefined>> {
    const result: Record<Extension, boolean | undefined> = { broadcast: undefined, presence: undefined };
    await this.#probe(async (sql) => {
      const probes = extensions.map((extension) => ({ extension, id: crypto.randomUUID() }));
      for (const probe of probes) {
        await sql`insert into realtime.messages (id, topic, extension) values (${probe.id}, ${context.topic}, ${probe.extension})`;
      }
      await setConnConfig(sql, context);
      const seen = await sql<{ id: string }[]>`select id from realtime.messages where id = any(${probes.map((p) => p.id)}::uuid[])`;
      const ids = new Set(seen.map((r) => r.id));
      for (const probe of probes) result[probe.extension] = ids.has(probe.id);
    });
    return result;
  }

  /** Whether the context may send broadcasts on its topic. */
  async writeAuthorization(context: AuthorizationContext): Promise<boolean> {
    let allowed = false;
    await this.#probe(async (sql) => {
      await setConnConfig(sql, context);
      try {
        await sql.savepoint((sp) => sp`insert into realtime.messages (topic, extension) values (${context.topic}, 'broadcast')`);
        allowed = true;
      } catch (error) {
        if ((error as { code?: string }).code !== '42501') throw error;
      }
    });
    return allowed;
  }

  async #probe(fn: (sql: postgres.TransactionSql) => Promise<void>): Promise<void> {
    try {
      await this.sql.begin(async (sql) => {
        await fn(sql);
        throw ROLLBACK;
      });
    } catch (error) {
      if (error === ROLLBACK) return;
      const code = (error as { code?: string }).code;
      const message = (error as Error).message;
      if (code === '23514' && /partition/.test(message)) throw new AuthorizationError('missing_partition', message);
      if (code === undefined || /^(08|57P)/.test(code) || /ECONN|closed/i.test(String(code))) {
        throw new AuthorizationError('database_unavailable', message);
      }
      throw new AuthorizationError('rls_policy_error', message);
    }
  }

  /**
   * Calls `deliver` for every broadcast committed from now on, in commit order (NOTIFY's order),
   * reading large ones back by id without letting later ones overtake them; after a lost
   * connection, also those committed while it was down (see the module doc), or calls `onGap`.
   */
  async listen(deliver: (message: CommittedBroadcast) => void, onGap?: () => void): Promise<void> {
    this.#deliver = deliver;
    this.#onGap = onGap;
    await this.#connectListener();
  }

  /** Opens the listening connection and LISTENs; after the first time, replays the gap. */
  async #connectListener(): Promise<void> {
    const listener = postgres(this.#url, {
      max: 1, idle_timeout: 0, max_lifetime: 0, fetch_types: false, onnotice: () => {},
      connection: { application_name: 'realtime_embedded_listener' },
      onnotify: (channel: string, text: string) => {
        if (channel === SESSION_ENDED_CHANNEL) this.onSessionEnded?.(text);
        else this.#enqueue(() => this.#onNotify(text));
      },
      onclose: () => { if (this.#listener === listener) this.#lost(); },
    } as postgres.Options<{}>);
    this.#listener = listener;
    try {
      await listener.unsafe(`listen "${NOTIFY_CHANNEL}"; listen "${SESSION_ENDED_CHANNEL}"`);
      if (this.listens++ === 0) {
        const [row] = await listener<{ at: number }[]>`select extract(epoch from localtimestamp)::float8 as at`;
        this.#watermark = row!.at;
      } else {
        this.#enqueue(() => this.#replay());
      }
    } catch (error) {
      if (this.#listener === listener) this.#listener = undefined;
      await listener.end({ timeout: 1 }).catch(() => {});
      throw error;
    }
  }

  /** The listening connection closed: reconnect with backoff until it works or close() is called. */
  #lost(): void {
    const old = this.#listener;
    this.#listener = undefined;
    void old?.end({ timeout: 1 }).catch(() => {});
    if (this.#closed) return;
    void (async () => {
      for (let delay = RECONNECT_MIN_MS; !this.#closed; delay = Math.min(delay * 2, RECONNECT_MAX_MS)) {
        try {
          await this.#connectListener();
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
    })();
  }

  #enqueue(step: () => Promise<void>): void {
    this.#chain = this.#chain.then(step).catch(() => {});
  }

  async #onNotify(text: string): Promise<void> {
    const note = JSON.parse(text) as Partial<CommittedBroadcast> & { id: string; at?: number; fetch?: boolean; payload?: unknown };
    if (this.#recent.has(note.id)) return;
    if (!note.fetch) {
      this.#emit({ id: note.id, topic: note.topic!, event: note.event!, private: note.private ?? false,
        payloadJson: JSON.stringify(note.payload ?? null) }, note.at);
      return;
    }
    const [row] = await this.sql<{ topic: string; event: string; private: boolean; payload: string | null }[]>`
      select topic, event, private, payload::text as payload from realtime.messages where id = ${note.id}`;
    // Binary payloads (realtime.send_binary) are not relayed by the embedded stack.
    if (row?.payload) this.#emit({ id: note.id, topic: row.topic, event: row.event, private: row.private, payloadJson: row.payload }, note.at);
  }

  /** Delivers once per id, remembering it for the replay window. */
  #emit(message: CommittedBroadcast, at: number | undefined): void {
    if (this.#recent.has(message.id)) return;
    if (at !== undefined && at > this.#watermark) this.#watermark = at;
    this.#recent.set(message.id, at ?? this.#watermark);
    for (const [id, seenAt] of this.#recent) {
      if (seenAt >= this.#watermark - REPLAY_MARGIN_S && this.#recent.size <= 4 * REPLAY_LIMIT) break;
      this.#recent.delete(id);
    }
    this.#deliver?.(message);
  }

  /** Delivers what was committed while the listener was away, in inserted_at order. */
  async #replay(): Promise<void> {
    try {
      const rows = await this.sql<{ id: string; topic: string; event: string; private: boolean; payload: string; at: number }[]>`
        select m.id, m.topic, m.event, m.private, m.payload::text as payload, extract(epoch from m.inserted_at)::float8 as at
        from realtime.messages m
        where m.extension = 'broadcast' and m.event is not null and m.payload is not null
          and m.inserted_at >= 'epoch'::timestamp + make_interval(secs => ${this.#watermark - REPLAY_MARGIN_S}::float8)
        order by m.inserted_at, m.id
        limit ${REPLAY_LIMIT + 1}`;
      if (rows.length > REPLAY_LIMIT) throw new Error('replay too long');
      for (const row of rows) {
        this.#emit({ id: row.id, topic: row.topic, event: row.event, private: row.private, payloadJson: row.payload }, row.at);
      }
    } catch {
      this.#onGap?.();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#partitionTimer) clearInterval(this.#partitionTimer);
    const listener = this.#listener;
    this.#listener = undefined;
    await Promise.all([this.sql.end({ timeout: 2 }), listener?.end({ timeout: 2 })]);
  }
}

async function setConnConfig(sql: postgres.TransactionSql, c: AuthorizationContext) {
  const sub = typeof c.claims.sub === 'string' ? c.claims.sub : '';
  await sql`select
    set_config('role', ${c.role}, true),
    set_config('realtime.topic', ${c.topic}, true),
    set_config('request.jwt.claims', ${JSON.stringify(c.claims)}, true),
    set_config('request.jwt.claim.sub', ${sub}, true),
    set_config('request.jwt.claim.role', ${c.role}, true),
    set_config('request.headers', ${JSON.stringify(c.headers ?? {})}, true)`;
}
