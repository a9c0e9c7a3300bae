#!/usr/bin/env node
// The installed `rectify` command: runs the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
