/**
 * `npm run status [-- -o json|env]`: the running stack's URLs and keys, as `supabase status -o json`
 * (or `-o env`: KEY="value" lines) prints them. Finds a stack started with any HAEX_* values
 * (stack/registry.ts).
 */
import { parseArgs } from 'node:util';
import { findRunningStack } from '../registry.ts';

let output: string;
try {
  const { values } = parseArgs({ options: { output: { type: 'string', short: 'o', default: 'json' } } });
  output = values.output!;
  if (output !== 'json' && output !== 'env') throw new Error('bad output');
} catch {
  console.error('usage: npm run status [-- -o json|env]');
  process.exit(2);
}
const found = findRunningStack();
if ('error' in found) {
  console.error(found.error);
  process.exit(1);
}
if (output === 'env') {
  for (const [key, value] of Object.entries(found.info)) console.log(`${key}=${JSON.stringify(String(value))}`);
} else {
  console.log(JSON.stringify(found.info, null, 2));
}
