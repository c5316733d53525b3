/**
 * The targets `npm run bench` measures, behind one interface (push a batch, pull a page):
 *   - sql-floor:          postgres.js issuing the equivalent single statements directly as the
 *                         superuser (no HTTP, no JWT, no RLS): the floor every ratio refers to;
 *   - postgrest-direct:   PostgREST's own port, /rpc/push_log_columns and /rpc/pull_page (issue 25) with user tokens;
 *   - postgrest-gateway:  the same through the API gateway (/rest/v1/rpc/...), apikey + token;
 *   - edge-sync:          the Edge Function `sync` through the gateway (/functions/v1/sync/...).
 * HTTP goes over node:http with a keep-alive agent (lighter on the shared CPU than fetch).
 */
import http from 'node:http';
import postgres from 'postgres';

export interface BenchLog {
  id: string;
  encryptedData: string;
  nonce: string;
  haexTimestamp: string;
  deviceId: string;
}

/** A user, its token and one of its vaults. */
export interface Session {
  userId: string;
  token: string;
  vaultId: string;
}

export interface PullPage {
  count: number;
  /** Sequence of the last log of the page (the cursor for the next page). */
  lastSequence: number;
  hasMore: boolean;
}

export interface Target {
  name: string;
  push(session: Session, logs: BenchLog[]): Promise<number>;
  pull(session: Session, afterSequence: number, limit: number): Promise<PullPage>;
  close(): Promise<void>;
}

export interface StackEndpoints {
  apiUrl: string;
  postgrestPort: number;
  dbUrl: string;
  anonKey: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32, keepAliveMsecs: 10_000 });

export class HttpError extends Error {
  constructor(readonly status: number, readonly body: string, url: string) {
    super(`HTTP ${status} from ${url}: ${body.slice(0, 300)}`);
  }
}

/** POST a JSON body, resolve the parsed JSON answer; throw HttpError on status >= 400. */
export function postJson<T>(url: URL, headers: Record<string, string>, body: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) return reject(new HttpError(res.statusCode ?? 500, text, url.href));
        try {
          resolve((text ? JSON.parse(text) : null) as T);
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// --- SQL floor ---------------------------------------------------------------------------------

export function sqlFloor(dbUrl: string, connections: number, applicationName = 'postgres.js'): Target {
  const sql = postgres(dbUrl, { max: connections, onnotice: () => {}, prepare: true, connection: { application_name: applicationName } });
  return {
    name: 'sql-floor',
    async push(session, logs) {
      const n = logs.length;
      let bytes = 0;
      for (const log of logs) bytes += log.encryptedData.length + log.nonce.length + log.haexTimestamp.length;
      // One statement: bump the counter under the row lock, insert the batch after it.
      const rows = await sql<{ last: string }[]>`
        with v as (
          update public.vaults set last_sequence = last_sequence + ${n}, bytes = bytes + ${bytes}, updated_at = now()
          where id = ${session.vaultId}
          returning last_sequence - ${n}::bigint as base, owner_id
        ), ins as (
          insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp)
          select ${session.vaultId}::uuid, v.base + t.ord, t.id, v.owner_id, t.device_id, t.data, t.nonce, t.ts
          from v, unnest(${logs.map((l) => l.id)}::uuid[], ${logs.map((l) => l.encryptedData)}::text[],
                         ${logs.map((l) => l.nonce)}::text[], ${logs.map((l) => l.haexTimestamp)}::text[],
                         ${logs.map((l) => l.deviceId)}::text[]) with ordinality as t(id, data, nonce, ts, device_id, ord)
          returning sequence
        )
        select max(sequence)::text as last from ins`;
      return Number(rows[0]!.last);
    },
    async pull(session, afterSequence, limit) {
      const rows = await sql<{ sequence: string }[]>`
        select id, sequence, encrypted_data, nonce, haex_timestamp, device_id, created_at
        from public.sync_logs
        where vault_id = ${session.vaultId} and sequence > ${afterSequence}
        order by sequence limit ${limit}`;
      return { count: rows.length, lastSequence: rows.length ? Number(rows.at(-1)!.sequence) : afterSequence, hasMore: rows.length === limit };
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

// --- PostgREST -----------------------------------------------------------------------------------

interface RpcPushAnswer { last_sequence: number }
/** pull_page's answer (issue 25): the HTTP API's page. */
interface RpcPullPage { logs: unknown[]; hasMore: boolean; nextSequence: number }

function postgrestTarget(name: string, base: string, anonKey?: string): Target {
  const headers = (session: Session): Record<string, string> => ({
    authorization: `Bearer ${session.token}`, ...(anonKey ? { apikey: anonKey } : {}),
  });
  const pushUrl = new URL(`${base}/rpc/push_log_columns`);
  const pullUrl = new URL(`${base}/rpc/pull_page`);
  return {
    name,
    async push(session, logs) {
      // As the client's rpc transport pushes (issue 25, item 3): the logs as columns.
      const body = JSON.stringify({
        vault_id: session.vaultId, ids: logs.map((l) => l.id), encrypted_data: logs.map((l) => l.encryptedData),
        nonces: logs.map((l) => l.nonce), haex_timestamps: logs.map((l) => l.haexTimestamp),
      });
      const answer = await postJson<RpcPushAnswer>(pushUrl, headers(session), body);
      return Number(answer.last_sequence);
    },
    async pull(session, afterSequence, limit) {
      const body = JSON.stringify({ vault_id: session.vaultId, after_sequence: afterSequence, max_count: limit });
      // The page built at push (issue 25), through PostgREST's media-type handler: Accept selects it.
      const page = await postJson<RpcPullPage>(pullUrl, { ...headers(session), accept: 'application/json' }, body);
      return { count: page.logs.length, lastSequence: Number(page.nextSequence), hasMore: page.hasMore };
    },
    close: async () => {},
  };
}

export const postgrestDirect = (endpoints: StackEndpoints) =>
  postgrestTarget('postgrest-direct', `http://127.0.0.1:${endpoints.postgrestPort}`);

export const postgrestGateway = (endpoints: StackEndpoints) =>
  postgrestTarget('postgrest-gateway', `${endpoints.apiUrl}/rest/v1`, endpoints.anonKey);

// --- Edge Function sync ------------------------------------------------------------------------

interface SyncPushAnswer { lastSequence: number }
interface SyncPullAnswer { logs: Array<{ sequence: number }>; hasMore: boolean; nextSequence: number }

/** `functionsBase`: the gateway's /functions/v1 by default; a function's own origin to skip the gateway. */
export function edgeSync(endpoints: StackEndpoints, functionsBase = `${endpoints.apiUrl}/functions/v1`): Target {
  const pushUrl = new URL(`${functionsBase}/sync/push`);
  const pullUrl = new URL(`${functionsBase}/sync/pull`);
  const headers = (session: Session) => ({ authorization: `Bearer ${session.token}`, apikey: endpoints.anonKey });
  return {
    name: 'edge-sync',
    async push(session, logs) {
      const answer = await postJson<SyncPushAnswer>(pushUrl, headers(session), JSON.stringify({ vaultId: session.vaultId, logs }));
      return Number(answer.lastSequence);
    },
    async pull(session, afterSequence, limit) {
      const answer = await postJson<SyncPullAnswer>(pullUrl, headers(session),
        JSON.stringify({ vaultId: session.vaultId, afterSequence, limit }));
      return { count: answer.logs.length, lastSequence: Number(answer.nextSequence), hasMore: answer.hasMore };
    },
    close: async () => {},
  };
}
