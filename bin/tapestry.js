#!/usr/bin/env node
// The installed `tapestry` command: TypeScript sources run through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../tools/tapestry/main.ts');
