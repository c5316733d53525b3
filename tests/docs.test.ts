/**
 * The docs against the code (issue 28, items 4 and 8; issue 27, item 5): docs/client.md's error table
 * names exactly the error classes the client exports, its option lists exactly the options the client
 * accepts, the README stays a short front door, and every file the docs have a user create is
 * git-ignored. Drift fails here.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as client from '../client/src/index.ts';
import { startLive } from '../client/src/live.ts';
import { PROJECT_ROOT } from '../stack/config.ts';

const clientDoc = readFileSync(path.join(PROJECT_ROOT, 'docs/client.md'), 'utf8');

/** The section of docs/client.md under `heading`, up to the next heading of any level. */
function section(heading: string): string {
  const start = clientDoc.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`docs/client.md has no "${heading}"`);
  const rest = clientDoc.slice(start + heading.length + 1);
  return rest.slice(0, rest.search(/^#{1,4} /m) >>> 0);
}

/** First-column names of a markdown table: the backticked word each row starts with. */
const tableNames = (text: string) => [...text.matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]!);

/** The option names an API accepts, read from the UsageError it throws for an unknown one. */
function acceptedOptions(call: (options: Record<string, unknown>) => unknown): string[] {
  try {
    call({ 'not an option': true });
  } catch (error) {
    const known = /\(known: ([^)]*)\)/.exec((error as Error).message);
    if (error instanceof client.UsageError && known) return known[1]!.split(', ').sort();
    throw error;
  }
  throw new Error('an unknown option was accepted');
}

describe('docs/client.md', () => {
  it('its error table lists exactly the error classes @haex-sync/client exports', () => {
    const documented = tableNames(section('### Errors (all `instanceof HaexSyncError`)')).sort();
    const exported = Object.entries(client)
      .filter(([, value]) => typeof value === 'function' && (value === client.HaexSyncError || value.prototype instanceof client.HaexSyncError))
      .map(([name]) => name).sort();
    expect(documented).toEqual(exported);
  });

  it('its HaexSyncClient.create table lists exactly the options the client accepts', () => {
    const documented = tableNames(section('### `HaexSyncClient.create(options)`')).sort();
    expect(documented).toEqual(acceptedOptions((options) => client.HaexSyncClient.create(options as never)));
  });

  it('its vault.live() signature lists exactly the options live sync accepts', () => {
    const signature = /`live\(\{ ([^}]*) \}\)`/.exec(section('### `Vault`'))?.[1];
    const documented = [...(signature ?? '').matchAll(/(\w+)\??(?: \([^)]*\))?(?:,|$)/g)].map((m) => m[1]!).sort();
    const vault = { vaultId: crypto.randomUUID(), sync: async () => ({ cursor: 0 }) };
    expect(documented).toEqual(acceptedOptions((options) => startLive(vault, {} as never, options as never)));
  });

  it('its examples create clients with deviceName, never the ignored deviceId', () => {
    for (const doc of ['README.md', 'docs/client.md', 'docs/hosted.md', 'docs/sharing.md', 'client/README.md']) {
      const text = readFileSync(path.join(PROJECT_ROOT, doc), 'utf8');
      for (const call of text.match(/HaexSyncClient\.create\(\{[^}]*\}\)/g) ?? []) expect(call, doc).not.toMatch(/deviceId/);
    }
  });
});

describe('README.md, the front door (issue 27, item 5)', () => {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');

  it('stays under 250 lines', () => {
    expect(readme.split('\n').length).toBeLessThan(250);
  });

  it('sets up with `npm ci`, then exactly two commands: `npm start` and `npm test`', () => {
    const run = readme.slice(readme.indexOf('## Run it'), readme.indexOf('## Use it in your app'));
    const commands = [...run.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.trim().split('\n'));
    expect(commands).toEqual(['npm ci', 'npm start', 'npm test']);
  });
});

describe('what the docs have a user create', () => {
  it('is git-ignored: a second stack\'s data dir, signing keys, the packed client', async () => {
    const paths = ['.haex/postgres/PG_VERSION', '.haex-2/postgres/PG_VERSION', 'supabase/signing_keys.json', 'signing_keys.json',
      'haex-sync-client-0.1.0.tgz'];
    const { stdout } = await promisify(execFile)('git', ['check-ignore', '--no-index', ...paths], { cwd: PROJECT_ROOT });
    expect(stdout.trim().split('\n')).toEqual(paths);
  });
});
