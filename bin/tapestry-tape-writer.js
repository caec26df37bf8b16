#!/usr/bin/env node
// The installed `tapestry-tape-writer` command: writes files to a new cartridge
// outside any library, plus the metadata file that `tapestry volume
// import-metadata` takes. TypeScript sources run through tsx's loader, as
// bin/tapestry.js does.
import { register } from 'tsx/esm/api';

register();
await import('../tools/tape-writer/main.ts');
