/**
 * push_logs as it was before issue 25 item 3 (JSON objects validated and inserted from jsonb), for the
 * profiling tools to time against push_log_columns in the same run. Not a copy: the definition is
 * read from the last migration that set it (20261206220344_pull_page_from_stored_wire.sql), renamed,
 * so it can live next to today's push_logs on a throwaway database.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MIGRATION = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'supabase', 'migrations',
  '20261206220344_pull_page_from_stored_wire.sql');
const HEADER = 'CREATE OR REPLACE FUNCTION public.push_logs(vault_id uuid, logs jsonb)';

/** `create or replace function <qualifiedName>(vault_id uuid, logs jsonb)` with the old body. */
export function pushLogsBeforeSql(qualifiedName: string): string {
  const text = readFileSync(MIGRATION, 'utf8');
  const start = text.indexOf(HEADER);
  const bodyStart = text.indexOf('$function$', start);
  const end = text.indexOf('$function$', bodyStart + 1);
  if (start < 0 || bodyStart < 0 || end < 0) throw new Error(`push_logs not found in ${MIGRATION}`);
  const bare = qualifiedName.split('.').pop()!;
  // The body names its parameters as push_logs.<name>; they follow the function's new name.
  return `${text.slice(start, end + '$function$'.length).replace('public.push_logs(', `${qualifiedName}(`)
    .replaceAll('push_logs.', `${bare}.`)};`;
}
