import type { FastifyPluginAsync } from 'fastify';
import type { Queryable } from '../src/db/pool.ts';
import type { Clock } from '../src/time/clock.ts';
import { parseCutoff, parseFamily, parseLabels } from './params.ts';
import * as repo from './repo.ts';
import {
  drivesReportSchema, errors, familyReportSchema, filesReportSchema, usageReportSchema, volumeStatsReportSchema, volumesReportSchema, whereReportSchema,
} from './schemas.ts';

export interface ReportDeps {
  readonly db: Queryable;
  /** "now" for ages such as `olderThan=90d`. */
  readonly clock: Clock;
}

const library = { type: 'string', maxLength: 64 } as const;
const libraryOnly = { type: 'object', additionalProperties: false, properties: { library } } as const;

/** `/reports/<name>`: read-only reports over the catalogue (`tapestry report <name>`). */
export function reportRoutes(deps: ReportDeps): FastifyPluginAsync {
  const { db } = deps;
  return async (app) => {
    app.get<{ Querystring: { volume?: string[] } }>('/reports/files', {
      schema: {
        tags: ['reports'],
        summary: 'Files on one or more volumes in tape order (file_no), with each volume\'s oldest and youngest active file',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { volume: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 1000 } },
        },
        response: { 200: filesReportSchema, ...errors },
      },
    }, async (req) => repo.filesOnVolumes(db, parseLabels(req.query.volume ?? [])));

    app.get<{ Querystring: { path: string; limit?: number } }>('/reports/where', {
      schema: {
        tags: ['reports'],
        summary: 'Where a file is, or every file under a directory: volume, file_no, and whether the volume is in a slot, a drive or on a shelf',
        querystring: {
          type: 'object',
          required: ['path'],
          additionalProperties: false,
          properties: { path: { type: 'string', minLength: 1, maxLength: 4096 }, limit: { type: 'integer', minimum: 1, maximum: 1_000_000 } },
        },
        response: { 200: whereReportSchema, ...errors },
      },
    }, async (req) => repo.whereIs(db, req.query.path, req.query.limit ?? 10_000));

    app.get<{ Querystring: { family: string; library?: string; olderThan?: string } }>('/reports/family', {
      schema: {
        tags: ['reports'],
        summary: 'Volumes of a file family with their last mount; olderThan (a date, date-time or age like 90d): only those in the library whose files are all older',
        querystring: {
          type: 'object',
          required: ['family'],
          additionalProperties: false,
          properties: { family: { type: 'string', minLength: 1, maxLength: 200 }, library, olderThan: { type: 'string', minLength: 1, maxLength: 64 } },
        },
        response: { 200: familyReportSchema, ...errors },
      },
    }, async (req) => {
      const family = parseFamily(req.query.family);
      const olderThan = req.query.olderThan === undefined ? undefined : parseCutoff(req.query.olderThan, deps.clock.now());
      await repo.checkLibrary(db, req.query.library);
      return repo.familyVolumes(db, family, { ...(req.query.library ? { library: req.query.library } : {}), ...(olderThan ? { olderThan } : {}) });
    });

    app.get<{ Querystring: { library?: string; inhibited?: boolean } }>('/reports/volumes', {
      schema: {
        tags: ['reports'],
        summary: 'All volumes, least recently mounted first, in or out of the library; inhibited=true: only those with an inhibit set',
        querystring: { type: 'object', additionalProperties: false, properties: { library, inhibited: { type: 'boolean' } } },
        response: { 200: volumesReportSchema, ...errors },
      },
    }, async (req) => {
      await repo.checkLibrary(db, req.query.library);
      return repo.volumesByLastMount(db, { ...(req.query.library ? { library: req.query.library } : {}), inhibitedOnly: req.query.inhibited ?? false });
    });

    app.get<{ Querystring: { library?: string } }>('/reports/usage', {
      schema: {
        tags: ['reports'],
        summary: 'Per storage group and file family: volumes, active files and bytes, free space',
        querystring: libraryOnly,
        response: { 200: usageReportSchema, ...errors },
      },
    }, async (req) => {
      await repo.checkLibrary(db, req.query.library);
      return repo.usage(db, req.query.library ? { library: req.query.library } : {});
    });

    app.get<{ Querystring: { library?: string } }>('/reports/drives', {
      schema: {
        tags: ['reports'],
        summary: 'Per drive: mounts, transfers and bytes read and written, read and write errors',
        querystring: libraryOnly,
        response: { 200: drivesReportSchema, ...errors },
      },
    }, async (req) => {
      await repo.checkLibrary(db, req.query.library);
      return repo.driveStats(db, req.query.library ? { library: req.query.library } : {});
    });

    app.get<{ Querystring: { library?: string } }>('/reports/volume-stats', {
      schema: {
        tags: ['reports'],
        summary: 'Per volume: mounts, last mount, transfers, read and write errors',
        querystring: libraryOnly,
        response: { 200: volumeStatsReportSchema, ...errors },
      },
    }, async (req) => {
      await repo.checkLibrary(db, req.query.library);
      return repo.volumeStats(db, req.query.library ? { library: req.query.library } : {});
    });
  };
}
