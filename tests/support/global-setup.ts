/** Starts one throwaway stack for the whole test run and stops it at the end. */
import type { TestProject } from 'vitest/node';
import type { StackInfo } from '../../stack/stack.ts';
import { startThrowawayStack } from './throwaway-stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo & { POSTGREST_URL: string; DATA_DIR: string };
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  // Every test file signs in from 127.0.0.1: the shared stack lifts config.toml's per-IP limits
  // (30 sign-ins per 5 minutes); tests/auth-limits.test.ts checks them on a stack of its own.
  const stack = await startThrowawayStack({ auth: { signInSignUpsPer5Min: 1_000_000, tokenRefreshesPer5Min: 1_000_000 } });
  console.log(`test stack ready in ${Date.now() - started} ms at ${stack.info.API_URL}`);
  project.provide('stack', {
    ...stack.info, POSTGREST_URL: `http://127.0.0.1:${stack.postgrestPort}`, DATA_DIR: stack.dataDir,
  });
  return async () => {
    await stack.dispose();
  };
}
