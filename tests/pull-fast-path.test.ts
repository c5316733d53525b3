/**
 * The Edge Function's fast pull-page path (functions/_shared/pull.ts pageOut) against what
 * PostgREST really answers, not hand-typed imitations: the exact request db.ts sends (pullRpc) goes
 * to the stack's PostgREST with a user's token, and each answer must (1) have the shape the fast
 * path cuts (one row: the logs array, then the page state at its end), and (2) give the same page as
 * parsing.
 */
import { describe, expect, it } from 'vitest';
import { pageOut, pageOutParsed, pullRpc } from '../functions/_shared/pull.ts';
import { newUser, rpc, stack } from './support/stack.ts';
import { b64chars, createVault, entry } from './support/sql-fixtures.ts';

/** The tail the fast path reads the state from: after the logs array, in pull_logs' column order. */
const STATE_TAIL = /\],"has_more":(?:true|false),"next_sequence":\d+,"last_sequence":\d+,"compacted_through":\d+\}\s*\]\s*$/;

describe('pageOut on real PostgREST output', () => {
  it('cuts every page shape PostgREST gives (first, rest, last, empty, compacted gaps, odd strings) exactly as parsing does', async () => {
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

    const raw = async (afterSequence: number, limit: number) => {
      const { path, args } = pullRpc({ vaultId: vault_id, afterSequence, limit });
      const res = await fetch(`${stack.POSTGREST_URL}${path}`, {
        method: 'POST', headers: { authorization: `Bearer ${alice.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify(args),
      });
      expect(res.status).toBe(200);
      return res.text();
    };
    const cases = [[0, 3], [3, 1000], [0, 1000], [12, 10], [9, 1]] as const; // first, rest, all, empty, one
    const seen = new Set<string>();
    for (const [after, limit] of cases) {
      const body = await raw(after, limit);
      const rows = JSON.parse(body) as unknown[];
      expect(rows).toHaveLength(1); // one page, built once
      expect(body.trimStart().startsWith('[{"logs":[')).toBe(true);
      expect(body).toMatch(STATE_TAIL); // the state once, where the fast path cuts it
      const page = JSON.parse(pageOut(body));
      expect(page).toEqual(JSON.parse(pageOutParsed(body)));
      seen.add(page.logs.length === 0 ? 'empty' : page.hasMore ? 'more' : 'last');
    }
    expect(seen).toEqual(new Set(['empty', 'more', 'last']));
  });
});
