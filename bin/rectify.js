#!/usr/bin/env node
// The installed `rectify` command. From a checkout it runs the TypeScript sources
// through tsx (never a stale build); where only the compiled dist/ exists (the
// container image) it runs that.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const here = (path) => new URL(path, import.meta.url);
if (!existsSync(here('../src/main.ts')) && existsSync(here('../dist/main.js'))) {
  await import('../dist/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
