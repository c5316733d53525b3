/** The log stream of a vault: POST /push, POST /pull, POST /compact (protocol.ts). */
import { jsonResponse } from '../../_shared/errors.ts';
import { body, db, jsonBody, requireUser, S, type SyncApp } from '../context.ts';
import { type CompactAnswer, parse, pushLogColumnsArgs, type PushAnswer, pushOut } from '../protocol.ts';

export function registerLogs(app: SyncApp) {
  app.post('/push', requireUser, jsonBody, async (c) => {
    const input = parse(S.push, await body(c.req.raw));
    const answer = await db.value<PushAnswer>(c.var.caller, 'push_log_columns', pushLogColumnsArgs(input));
    return jsonResponse(pushOut(answer));
  });

  // Compaction (compact_logs): removes the caller's superseded logs; answered as SQL gives it.
  app.post('/compact', requireUser, jsonBody, async (c) => {
    const input = parse(S.compact, await body(c.req.raw));
    const answer = await db.value<CompactAnswer>(c.var.caller, 'compact_logs', { vault_id: input.vaultId });
    return jsonResponse({ status: answer.status, removed: answer.removed, remaining: answer.remaining, complete: answer.complete,
      compactedThrough: answer.compacted_through });
  });

  app.post('/pull', requireUser, jsonBody, async (c) => {
    const input = parse(S.pull, await body(c.req.raw));
    const page = await db.pull(c.var.caller, input);
    return new Response(page, { headers: { 'content-type': 'application/json; charset=utf-8' } });
  });
}
