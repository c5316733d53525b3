/**
 * A static check of supabase/schemas that pg-delta does not make: each object is created in exactly
 * one file. pg-delta loads every file into its shadow database, so a function defined twice would
 * silently take whichever definition loads last.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const CREATE = /\bcreate\s+(?:or\s+replace\s+)?(function|procedure|table|view|materialized\s+view|type)\s+((?:"?[\w$]+"?\s*\.\s*)?"?[\w$]+"?)/gi;

function sqlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.sql')).sort();
}

/** Dollar-quoted bodies and comments removed: a body may well mention `create table`. */
function definitionsOnly(sql: string): string {
  return sql.replace(/\$([\w]*)\$[\s\S]*?\$\1\$/g, "''").replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

/** `kind schema.name: file, file` for every object created in more than one file. */
export function duplicateDefinitions(dir: string): string[] {
  const seen = new Map<string, string[]>();
  for (const file of sqlFiles(dir)) {
    for (const match of definitionsOnly(readFileSync(path.join(dir, file), 'utf8')).matchAll(CREATE)) {
      const key = `${match[1]!.toLowerCase().replace(/\s+/g, ' ')} ${match[2]!.replaceAll('"', '').replace(/\s+/g, '').toLowerCase()}`;
      const files = seen.get(key) ?? [];
      if (!files.includes(file)) files.push(file);
      seen.set(key, files);
    }
  }
  return [...seen].filter(([, files]) => files.length > 1).map(([key, files]) => `${key}: ${files.join(', ')}`);
}
