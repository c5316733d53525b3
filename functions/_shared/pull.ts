/**
 * The pull read of both database transports (db.ts RestDb, db-direct.ts DirectDb): the pull_logs rpc
 * and the API page built from its answer.
 *
 * POST /pull is ONE PostgREST request and ONE SQL statement: public.pull_page (issue 25), one index
 * range scan on sync_logs concatenating each log's wire JSON stored at push (sync_logs.wire), returned
 * through the media-type domain "application/json" so that PostgREST sends it as it is (it needs
 * `Accept: application/json`: with Accept `*` / `*` PostgREST would wrap it as a JSON string). The page's logs
 * (sync_logs rows, ascending) and its state once (has_more, next_sequence, last_sequence,
 * compacted_through), all from one snapshot; pull_page ends a page at the byte budget of
 * private.limits() (always >= 1 log), so nothing here depends on PostgREST's max_rows or guesses
 * from the page length.
 *
 * Wire format in: pull_page's text, which IS the API page (docs/http-api.md):
 * `{"logs":[{"vaultId",…,"encryptedData",…}],"hasMore":…,"nextSequence":…,"lastSequence":…,"compactedThrough":…}`.
 * The rest transport streams PostgREST's body on through checkedPageStream, which checks the same
 * frame (start and state) chunk by chunk; the direct transport's pageOut checks it on the text and
 * passes it through untouched: no parse, no copy.
 * Also still read: pull_logs' shape through json_agg, `[{"logs":[{…}],"has_more":…,…}]` (a database
 * not yet migrated to pull_page's wire), whose snake_case keys are renamed in place instead of
 * JSON.parse/stringify of up to megabytes. That is safe because in JSON text a quote inside a string
 * is always escaped, so `{"key":` / `,"key":` only occurs where a key starts. Any other shape is
 * parsed and checked properly (pageOutParsed).
 */
import { HttpError } from './errors.ts';
import { camelName } from './names.ts';

/** A validated POST /pull body. */
export interface PullRequest {
  vaultId: string;
  afterSequence: number;
  limit: number;
}

/** The rpc path, body and headers of a pull (the Accept header selects pull_page's media-type handler). */
export const pullRpc = (body: PullRequest) => ({
  path: '/rpc/pull_page',
  args: { vault_id: body.vaultId, after_sequence: body.afterSequence, max_count: body.limit },
  headers: { accept: 'application/json' },
});

const unexpected = () => new HttpError(500, 'internal', 'unexpected database answer');

/** `[{"logs":[` … `],"has_more":…,"compacted_through":N}]`: the logs array and the state, checked. */
const PAGE = /^\s*\[\s*\{"logs":(\[[\s\S]*\]),"has_more":(true|false),"next_sequence":(\d+),"last_sequence":(\d+),"compacted_through":(\d+)\}\s*\]\s*$/;
const PAGE_KEY = /[{,]"(logs|has_more)":/;
const SNAKE_KEY = /([{,])"([a-z][a-z0-9]*(?:_[a-z0-9]+)+)":/g;
const camelKeysInText = (json: string) => json.replace(SNAKE_KEY, (_m, before: string, key: string) => `${before}"${camelName(key)}":`);

const page = (logs: string, hasMore: string, nextSequence: string, lastSequence: string, compactedThrough: string) =>
  `{"logs":${logs},"hasMore":${hasMore},"nextSequence":${nextSequence},"lastSequence":${lastSequence},`
  + `"compactedThrough":${compactedThrough}}`;

/** The end of pull_page's text: the page's state (searched in its last bytes only). */
const API_PAGE_TAIL = /\],"hasMore":(true|false),"nextSequence":\d+,"lastSequence":\d+,"compactedThrough":\d+\}$/;

/** The start of pull_page's text. */
const API_PAGE_HEAD = '{"logs":[';
/** How many last bytes of a page API_PAGE_TAIL is searched in. */
const TAIL_BYTES = 160;

/**
 * pull_page's body as PostgREST streams it, passed on chunk by chunk (the rest transport's POST
 * /pull): the function never holds the page (up to the 8 MiB byte budget) as a string and never
 * decodes or re-encodes it, which saved ~1.3 ms of Deno's CPU per 1,000-log page
 * (docs/performance.md). The frame is checked on the way: the first bytes must be `{"logs":[`,
 * the last 160 the page's state. A body that fails either check is cut off with an error instead
 * of being completed, so a client sees a broken answer (unparseable JSON), never a wrong page. The
 * status is sent before the tail is seen: that is the price of not buffering.
 */
export function checkedPageStream(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const head = encoder.encode(API_PAGE_HEAD);
  let headChecked = 0; // bytes of `head` compared so far
  let tail = new Uint8Array(0);
  const refuse = (controller: TransformStreamDefaultController<Uint8Array>, why: string) => {
    console.error(`sync: pull_page answer cut off: ${why}`);
    controller.error(new HttpError(500, 'internal', 'unexpected database answer'));
  };
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      for (let i = 0; headChecked < head.length && i < chunk.length; i++, headChecked++) {
        if (chunk[i] !== head[headChecked]) return refuse(controller, 'no {"logs":[ at its start');
      }
      if (chunk.length >= TAIL_BYTES) {
        tail = chunk.slice(chunk.length - TAIL_BYTES);
      } else {
        const joined = new Uint8Array(Math.min(TAIL_BYTES, tail.length + chunk.length));
        const keep = joined.length - chunk.length;
        joined.set(tail.subarray(tail.length - keep), 0);
        joined.set(chunk, keep);
        tail = joined;
      }
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (headChecked < head.length) return refuse(controller, 'shorter than {"logs":[');
      if (!API_PAGE_TAIL.test(new TextDecoder().decode(tail))) return refuse(controller, 'no page state at its end');
    },
  }));
}

/** pull_page's text (or pull_logs' answer, json_agg of its one row) -> the API page as JSON text. */
export function pageOut(answer: string): string {
  if (answer.startsWith(API_PAGE_HEAD) && API_PAGE_TAIL.test(answer.slice(-TAIL_BYTES))) return answer;
  const match = PAGE.exec(answer);
  // A second row would show as a structural "logs" / "has_more" key inside the captured array.
  if (!match || PAGE_KEY.test(match[1]!)) return pageOutParsed(answer);
  return page(camelKeysInText(match[1]!), match[2]!, match[3]!, match[4]!, match[5]!);
}

interface PullRow {
  logs: Array<Record<string, unknown>>;
  has_more: boolean; next_sequence: number; last_sequence: number; compacted_through: number;
}

/** The same as pageOut, by parsing (and checking) the whole answer. */
export function pageOutParsed(text: string): string {
  let rows: PullRow[];
  try {
    rows = JSON.parse(text) as PullRow[];
  } catch {
    throw unexpected();
  }
  const row = Array.isArray(rows) && rows.length === 1 ? rows[0] : undefined;
  if (!row || !Array.isArray(row.logs) || typeof row.has_more !== 'boolean'
    || ![row.next_sequence, row.last_sequence, row.compacted_through].every((n) => Number.isSafeInteger(n))) {
    throw unexpected();
  }
  const logs = row.logs.map((log) => Object.fromEntries(Object.entries(log).map(([k, v]) => [camelName(k), v])));
  return JSON.stringify({ logs, hasMore: row.has_more, nextSequence: row.next_sequence, lastSequence: row.last_sequence,
    compactedThrough: row.compacted_through });
}
