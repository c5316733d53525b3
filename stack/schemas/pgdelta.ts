/**
 * supabase/schemas through pg-delta (@supabase/pg-delta, the engine of `supabase db schema declarative`),
 * driven through its CLI so that what we run is what the Supabase CLI runs.
 *
 * The profile: Supabase's own policy (`supabase`: platform schemas, roles, publications and the
 * extensions the platform manages are not ours), plus an include rule for the row level security
 * policies we put on platform tables: `realtime.messages` (vault topics) and `storage.objects`.
 * The `supabase` profile drops the whole `realtime` and `storage` schemas, so without the rule our
 * policies there would silently leave the files and never be diffed. `raw` is no option: it would
 * claim the bootstrap's auth and realtime objects as ours.
 *
 * The profile lives here as code (derived from the pinned pg-delta's `supabasePolicy`) and is written
 * to a temp file for each run, because pg-delta takes custom profiles only as a JSON file path.
 * supabase/schemas/.pgdelta-export.json carries no profile id on purpose: the Supabase CLI runs its
 * built-in `supabase` profile and refuses a manifest naming another one.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { supabasePolicy } from '@supabase/pg-delta';

const run = promisify(execFile);

export const PROFILE_ID = 'haex-sync';

/** Policies on these platform tables are ours (the table itself stays the platform's). */
const OWN_POLICIES_ON = [{ schema: 'realtime', table: 'messages' }, { schema: 'storage', table: 'objects' }];

export function profile() {
  return {
    id: PROFILE_ID,
    handlers: [],
    policy: {
      id: PROFILE_ID,
      // Own rules first, then Supabase's (first match wins): these includes beat its schema excludes.
      filter: OWN_POLICIES_ON.map(({ schema, table }) => ({
        match: { all: [{ kind: 'policy' }, { schema }, { idField: { field: 'table', glob: table } }] },
        action: 'include',
      })),
      extends: [supabasePolicy],
    },
  };
}

/** One plan action, as pg-delta's plan artifact has it. */
export interface PlanAction {
  sql: string;
  verb: string;
  produces: StableId[];
  destroys: StableId[];
  consumes: StableId[];
  transactionality: string;
  /** 'destructive' for a drop or an enum rewrite: data may go. */
  dataLoss: string;
}
export interface StableId { kind: string; schema?: string; table?: string; name?: string; args?: string[]; target?: StableId; grantee?: string }
/** pg-delta's Delta: add/remove carry a fact, set an id and attribute, link/unlink an edge. */
export type Delta = { verb: 'add' | 'remove'; fact: { id: StableId } } | { verb: 'set'; id: StableId; attr: string }
  | { verb: 'link' | 'unlink'; edge: { from: StableId } };
export interface Plan { actions: PlanAction[]; deltas: Delta[] }

/** `kind schema.name(args)`, as a reviewer looks for it in supabase/schemas. */
export function describeId(id: StableId): string {
  if (id.kind === 'acl' && id.target) return `grant on ${describeId(id.target)} to ${id.grantee}`;
  if (id.target) return `${id.kind} on ${describeId(id.target)}`;
  const qualified = [id.schema, id.table, id.name].filter(Boolean).join('.');
  return `${id.kind} ${qualified}${id.args ? `(${id.args.join(', ')})` : ''}`;
}

/** One line per delta: what the schema files want done to the database, as `verb object`. */
export function describeDelta(delta: Delta): string {
  switch (delta.verb) {
    case 'add': return `add    ${describeId(delta.fact.id)}`;
    case 'remove': return `remove ${describeId(delta.fact.id)}`;
    case 'set': return `change ${describeId(delta.id)} (${delta.attr})`;
    default: return `change ${describeId(delta.edge.from)} (dependencies)`;
  }
}

/** The differences a plan carries, one line per object, sorted. */
export function differences(plan: Plan): string[] {
  return [...new Set(plan.deltas.map(describeDelta))].sort();
}

export class PgDelta {
  private readonly workdir = mkdtempSync(path.join(tmpdir(), 'haex-pgdelta-'));
  readonly profilePath = path.join(this.workdir, 'profile.json');
  private round = 0;

  constructor(private readonly projectRoot: string) {
    writeFileSync(this.profilePath, JSON.stringify(profile()));
  }

  private async pgdelta(args: string[]): Promise<{ stdout: string; stderr: string }> {
    const bin = path.join(this.projectRoot, 'node_modules', '.bin', 'pgdelta');
    try {
      return await run(bin, args, { maxBuffer: 64 << 20, timeout: 120_000 });
    } catch (error) {
      const { stdout = '', stderr = '', code } = error as { stdout?: string; stderr?: string; code?: number };
      throw Object.assign(new Error(`pgdelta ${args[0]} ${args[1] ?? ''} failed (exit ${code}):\n${quiet(stderr)}${stdout}`), { code });
    }
  }

  /**
   * The plan that takes `targetUrl` to the files in `dir`, loaded into a throwaway shadow database on
   * the target's cluster. Nothing is applied. (`pgdelta diff` would exit 0 on differences too: the
   * plan's actions are what count.)
   */
  async plan(dir: string, targetUrl: string): Promise<{ plan: Plan; planPath: string }> {
    const planPath = path.join(this.workdir, `plan-${++this.round}.json`);
    await this.pgdelta(['schema', 'apply', '--dir', dir, '--target', targetUrl, '--profile', this.profilePath,
      '--dry-run', '--out-plan', planPath]);
    return { plan: JSON.parse(readFileSync(planPath, 'utf8')) as Plan, planPath };
  }

  /** The plan's SQL, one entry per segment in execution order (a non-transactional step gets its own). */
  async render(planPath: string): Promise<{ sql: string; transactional: boolean }[]> {
    const base = path.join(this.workdir, `render-${this.round}`);
    await this.pgdelta(['render', '--plan', planPath, '--out', `${base}.sql`, '--allow-drops']);
    const files = readdirSync(this.workdir).filter((f) => f.startsWith(`render-${this.round}`) && f.endsWith('.sql'))
      .sort((a, b) => segmentNumber(a) - segmentNumber(b));
    return files.map((f) => {
      const sql = readFileSync(path.join(this.workdir, f), 'utf8');
      return { sql, transactional: !sql.startsWith('-- pg-delta: transaction=false') };
    });
  }

  /** Writes `dir` as declarative files of the database at `sourceUrl` (the one-time bootstrap). */
  async exportSchema(sourceUrl: string, dir: string) {
    await this.pgdelta(['schema', 'export', '--source', sourceUrl, '--out-dir', dir, '--profile', this.profilePath]);
    const manifestPath = path.join(dir, '.pgdelta-export.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    delete manifest.profile; // see the module doc: the CLI refuses a manifest naming a profile it lacks
    delete manifest.files; // a list new files would have to be added to by hand; the loader reads the directory
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }

  dispose() {
    rmSync(this.workdir, { recursive: true, force: true });
  }
}

function segmentNumber(file: string) {
  return Number(/_(\d+)\.sql$/.exec(file)?.[1] ?? 0);
}

/** pg-delta warns about auth.* columns our profile does not manage (dangling edges): noise here. */
function quiet(stderr: string) {
  return stderr.split('\n').filter((line) => !line.includes('[dangling_edge]')).join('\n');
}
