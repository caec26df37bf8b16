#!/usr/bin/env node
// The installed `tapestry-tape-reader` command: restores files from a cartridge
// and its metadata file, with no server and no database. TypeScript sources run
// through tsx's loader, as bin/tapestry.js does.
import { register } from 'tsx/esm/api';

register();
await import('../tools/tape-reader/main.ts');
