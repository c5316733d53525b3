// Builds the package: an empty dist/ (no module that was renamed or removed survives), then tsc,
// which compiles every module under src/ to ESM and rewrites relative `.ts` imports to `.js`.
// Declarations keep the `.ts` specifiers tsc saw; they are rewritten here too, so that an app's
// TypeScript resolves them without `allowImportingTsExtensions`.
// Plain .mjs, so that it runs before anything is built; the root's `npm ci` runs it via `prepare`.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const clientDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(clientDir, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(path.join(clientDir, 'package.json')).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(clientDir, 'tsconfig.build.json')], { stdio: 'inherit' });

for (const entry of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!entry.endsWith('.d.ts')) continue;
  const file = path.join(dist, entry);
  const source = readFileSync(file, 'utf8');
  const rewritten = source.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1$2.js$3');
  if (rewritten !== source) writeFileSync(file, rewritten);
}
