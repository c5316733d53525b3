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
 */
import postgres from 'postgres';

export const NOTIFY_CHANNEL = 'realtime_embedded_broadcast';

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
  #listener: postgres.Sql;
  #partitionTimer: NodeJS.Timeout | undefined;

  constructor(url: string) {
    this.sql = postgres(url, {
      max: 4, onnotice: () => {}, idle_timeout: 60, connection: { application_name: 'realtime_embedded' },
    });
    this.#listener = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'realtime_embedded_listener' } });
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
   * reading large ones back by id without letting later ones overtake them.
   */
  async listen(deliver: (message: CommittedBroadcast) => void): Promise<void> {
    let chain = Promise.resolve();
    await this.#listener.listen(NOTIFY_CHANNEL, (text) => {
      chain = chain.then(async () => {
        const note = JSON.parse(text) as Partial<CommittedBroadcast> & { id: string; fetch?: boolean; payload?: unknown; inserted_at?: string };
        if (!note.fetch) {
          deliver({ id: note.id, topic: note.topic!, event: note.event!, private: note.private ?? false,
            payloadJson: JSON.stringify(note.payload ?? null) });
          return;
        }
        const [row] = await this.sql<{ topic: string; event: string; private: boolean; payload: string | null }[]>`
          select topic, event, private, payload::text as payload from realtime.messages where id = ${note.id}`;
        // Binary payloads (realtime.send_binary) are not relayed by the embedded stack.
        if (row?.payload) deliver({ id: note.id, topic: row.topic, event: row.event, private: row.private, payloadJson: row.payload });
      }).catch(() => {});
    });
  }

  async close(): Promise<void> {
    if (this.#partitionTimer) clearInterval(this.#partitionTimer);
    await Promise.all([this.sql.end({ timeout: 2 }), this.#listener.end({ timeout: 2 })]);
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
