#!/usr/bin/env node
// The installed `encp` command: TypeScript sources run through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../tools/encp/main.ts');
