/**
 * The Edge Function's pull-page path (functions/_shared/pull.ts pageOut) against what PostgREST
 * really answers, not hand-typed imitations: the exact request db.ts sends (pullRpc: pull_page with
 * its Accept header) goes to the stack's PostgREST with a user's token, and each answer must (1) be
 * the API page itself, framed as pageOut checks it (the logs array, then the page state at its end),
 * which pageOut passes through untouched, and (2) be the page pull_logs gives, through the parsing
 * path (issue 25: built at push, the same page).
 */
import { describe, expect, it } from 'vitest';
import { pageOut, pageOutParsed, pullRpc } from '../functions/_shared/pull.ts';
import { newUser, rpc, stack } from './support/stack.ts';
import { b64chars, createVault, entry } from './support/sql-fixtures.ts';

/** The tail pageOut checks: after the logs array, the API page's state. */
const STATE_TAIL = /\],"hasMore":(?:true|false),"nextSequence":\d+,"lastSequence":\d+,"compactedThrough":\d+\}$/;

describe('pageOut on real PostgREST output (pull_page)', () => {
  it('passes every page pull_page gives (first, rest, last, empty, compacted gaps, odd strings) through untouched, each the page pull_logs gives', async () => {
    const alice = await newUser('fastpath');
    const { vault_id } = await createVault(alice);
    const tricky = ['{"lastSequence":1,', '\\"},{', 'ü€😀', '</script>'];
    const logs = [
      ...tricky.map((t, i) => ({ ...entry({ haex_timestamp: t, device_id: t }), record_key: `k${i}` })),
      ...Array.from({ length: 6 }, (_, i) => ({ ...entry(), device_id: null, record_key: i % 2 ? 'dup' : null })),
      entry({ encrypted_data: b64chars(400_000) }), entry({ encrypted_data: b64chars(400_000) }),
    ];
    expect((await rpc('push_logs', { vault_id, logs }, alice.access_token)).status).toBe(200);
    expect((await rpc('compact_logs', { vault_id }, alice.access_token)).status).toBe(200); // a gap in the middle

    const raw = async (path: string, args: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${stack.POSTGREST_URL}${path}`, {
        method: 'POST', headers: { authorization: `Bearer ${alice.access_token}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(args),
      });
      expect(res.status).toBe(200);
      return res.text();
    };
    // pull_logs' page through the parsing path, without wire (null there), createdAt as an instant.
    const viaPullLogs = (body: string) => {
      const page = JSON.parse(pageOutParsed(body));
      return { ...page, logs: page.logs.map(({ wire: _wire, createdAt, ...log }: Record<string, unknown>) => ({ ...log, createdAt: Date.parse(createdAt as string) })) };
    };
    const cases = [[0, 3], [3, 1000], [0, 1000], [12, 10], [9, 1]] as const; // first, rest, all, empty, one
    const seen = new Set<string>();
    for (const [after, limit] of cases) {
      const { path, args, headers } = pullRpc({ vaultId: vault_id, afterSequence: after, limit });
      const body = await raw(path, args, headers);
      expect(body.startsWith('{"logs":[')).toBe(true); // the API page itself, one object
      expect(body).toMatch(STATE_TAIL); // the state once, at its end
      expect(pageOut(body)).toBe(body); // passed through as it is
      const page = JSON.parse(body);
      expect({ ...page, logs: page.logs.map((log: Record<string, unknown>) => ({ ...log, createdAt: Date.parse(log.createdAt as string) })) })
        .toEqual(viaPullLogs(await raw('/rpc/pull_logs', args)));
      seen.add(page.logs.length === 0 ? 'empty' : page.hasMore ? 'more' : 'last');
    }
    expect(seen).toEqual(new Set(['empty', 'more', 'last']));
  });
});
