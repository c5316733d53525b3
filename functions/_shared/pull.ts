/**
 * The pull read of both database transports (db.ts RestDb, db-direct.ts DirectDb): the pull_logs rpc
 * and the API page built from its rows.
 *
 * POST /pull is ONE PostgREST request and ONE SQL statement: the pull_logs rpc, inlined by PostgreSQL
 * into an index range scan on sync_logs (see supabase/migrations/..._recreate_pull_logs_with_page_state.sql).
 * The page's state comes with it from the database, in the same snapshot: every row carries the
 * vault's lastSequence, hasMore, nextSequence and compactedThrough, so nothing here depends on PostgREST's max_rows or
 * guesses from the page length (a page holds at most 1000 rows, under any max_rows of 1000 or more).
 * pull_logs also ends a page at the byte budget of private.limits() (always >= 1 log).
 *
 * PostgREST renames the columns to the API's camelCase itself (`select=`), with the state columns
 * first in each row; the page is passed through as text: the state prefix of each row is cut off
 * instead of JSON.parse/stringify of up to megabytes (pageOut; any unexpected shape takes the
 * parsing path, pageOutParsed). A page without logs is one row whose log columns are null.
 */
import { HttpError } from './errors.ts';

/** A validated POST /pull body. */
export interface PullRequest {
  vaultId: string;
  afterSequence: number;
  limit: number;
}

export const PULL_COLUMNS = 'lastSequence:last_sequence,hasMore:has_more,nextSequence:next_sequence,'
  + 'compactedThrough:compacted_through,'
  + 'id,encryptedData:encrypted_data,nonce,haexTimestamp:haex_timestamp,deviceId:device_id,createdAt:created_at,'
  + 'recordKey:record_key,sequence';

/** The rpc path and body of a pull. */
export const pullRpc = (body: PullRequest) => ({
  path: `/rpc/pull_logs?select=${PULL_COLUMNS}`,
  args: { vault_id: body.vaultId, after_sequence: body.afterSequence, max_count: body.limit },
});

const unexpected = () => new HttpError(500, 'internal', 'unexpected database answer');
const STATE = /\{"lastSequence":(\d+),"hasMore":(true|false),"nextSequence":(\d+),"compactedThrough":(\d+),/g;
const EMPTY_ROW =
  /^\s*\[\s*\{"lastSequence":(\d+),"hasMore":false,"nextSequence":(\d+),"compactedThrough":(\d+),"id":null,[^{}]*\}\s*\]\s*$/;

const page = (logs: string, hasMore: boolean, nextSequence: number, lastSequence: number, compactedThrough: number) =>
  `{"logs":${logs},"hasMore":${hasMore},"nextSequence":${nextSequence},"lastSequence":${lastSequence},`
  + `"compactedThrough":${compactedThrough}}`;

/** pull_logs rows (as PULL_COLUMNS selects them) -> the API page as JSON text. */
export function pageOut(rows: string): string {
  const empty = EMPTY_ROW.exec(rows);
  if (empty) return page('[]', false, Number(empty[2]), Number(empty[1]), Number(empty[3]));
  STATE.lastIndex = 0;
  const first = STATE.exec(rows);
  if (!first || !/^\s*\[\s*$/.test(rows.slice(0, first.index))) return pageOutParsed(rows);
  let count = 0;
  const logs = rows.replace(STATE, (match, last, more, next, compacted) =>
    last === first[1] && more === first[2] && next === first[3] && compacted === first[4] ? (count++, '{') : match);
  // Every row must have had the same state; anything else is parsed (and checked) properly.
  if (count === 0 || logs.includes('"lastSequence":')) return pageOutParsed(rows);
  return page(logs.trimEnd(), first[2] === 'true', Number(first[3]), Number(first[1]), Number(first[4]));
}

interface PullRowOut {
  lastSequence: number; hasMore: boolean; nextSequence: number; compactedThrough: number; id: string | null; [k: string]: unknown;
}

export function pageOutParsed(text: string): string {
  let rows: PullRowOut[];
  try {
    rows = JSON.parse(text) as PullRowOut[];
  } catch {
    throw unexpected();
  }
  if (!Array.isArray(rows) || rows.length === 0) throw unexpected();
  const { lastSequence, hasMore, nextSequence, compactedThrough } = rows[0]!;
  if (rows.some((r) => r.lastSequence !== lastSequence || r.hasMore !== hasMore || r.nextSequence !== nextSequence
    || r.compactedThrough !== compactedThrough)) {
    throw unexpected();
  }
  const logs = rows[0]!.id === null ? []
    : rows.map(({ lastSequence: _l, hasMore: _h, nextSequence: _n, compactedThrough: _c, ...log }) => log);
  return JSON.stringify({ logs, hasMore, nextSequence, lastSequence, compactedThrough });
}
