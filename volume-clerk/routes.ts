import type { FastifyPluginAsync } from 'fastify';
import { SYSTEM_ACCESS, SYSTEM_STATE, USER_ACCESS, USER_STATE, type InhibitField, type InhibitKind } from './inhibits.ts';
import type { AddVolume, NextWriteRequest, VolumeClerk } from './service.ts';

const nullableString = { type: ['string', 'null'] } as const;
const labelSchema = { type: 'string', pattern: '^[A-Z0-9]{6,8}$', description: 'volume label, e.g. TS0001L9' } as const;
const nameSchema = { type: 'string', pattern: '^[-A-Za-z0-9_]+$', maxLength: 64 } as const;
// A deleted volume is renamed LABEL.deleted and can still be looked at.
const labelParams = { type: 'object', required: ['label'], properties: { label: { ...labelSchema, pattern: '^[A-Z0-9]{6,8}(\\.deleted)?$', description: 'volume label, e.g. TS0001L9 (or TS0001L9.deleted)' } } } as const;
const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };
const inhibitPair = (access: readonly string[], state: readonly string[]) => ({
  type: 'object',
  properties: { access: { type: 'string', enum: access }, state: { type: 'string', enum: state } },
}) as const;

export const volumeSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    label: { type: 'string' },
    library: { type: 'string' },
    mediaType: { type: 'string' },
    capacityBytes: { type: 'integer' },
    remainingBytes: { type: 'integer' },
    blockSize: { type: 'integer' },
    eodFileNo: { type: ['integer', 'null'], description: 'next file number to write; null = blank (no VOL1 yet)' },
    volumeFamily: { type: 'string', description: 'storage_group.file_family.wrapper' },
    storageGroup: { type: 'string' },
    fileFamily: { type: 'string' },
    wrapper: { type: 'string' },
    systemInhibit: inhibitPair(SYSTEM_ACCESS, SYSTEM_STATE),
    userInhibit: inhibitPair(USER_ACCESS, USER_STATE),
    writeProtected: { type: 'string', enum: ['u', 'y', 'n'] },
    location: { type: 'object', properties: { kind: { type: 'string' }, ref: nullableString } },
    shelfPolicy: { type: 'string', enum: ['fail', 'operator'] },
    declaredAt: { type: 'string' },
    firstAccessAt: nullableString,
    lastAccessAt: nullableString,
    modifiedAt: { type: 'string' },
    mounts: { type: 'integer' },
    readAccesses: { type: 'integer' },
    writeAccesses: { type: 'integer' },
    readErrors: { type: 'integer' },
    writeErrors: { type: 'integer' },
    activeFiles: { type: 'integer' },
    activeBytes: { type: 'integer' },
    deletedFiles: { type: 'integer' },
    deletedBytes: { type: 'integer' },
    unknownFiles: { type: 'integer' },
    unknownBytes: { type: 'integer' },
    comment: { type: 'string' },
    needsOperator: { type: 'boolean', description: 'availability check: a read must wait for an operator to fetch the volume' },
  },
} as const;

const inhibitTarget = {
  kind: { type: 'string', enum: ['system', 'user'] },
  field: { type: 'string', enum: ['access', 'state'] },
} as const;

/** `/volumes`: declare, inspect, list, inhibit, next-write-volume and end-of-data updates. */
export function volumeClerkRoutes(clerk: VolumeClerk): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { library?: string; family?: string; storageGroup?: string } }>('/volumes', {
      schema: {
        tags: ['volumes'],
        summary: 'Volumes by label; family = a file family, or sg.ff.wrapper',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { library: nameSchema, storageGroup: nameSchema, family: { type: 'string', pattern: '^[-A-Za-z0-9_]+(\\.[-A-Za-z0-9_]+\\.[-A-Za-z0-9_]+)?$', maxLength: 200 } },
        },
        response: { 200: { type: 'array', items: volumeSchema }, ...errors },
      },
    }, async (req) => clerk.listVolumes(req.query));

    app.post<{ Body: AddVolume }>('/volumes', {
      schema: {
        tags: ['volumes'],
        summary: 'Declare a blank volume (common pool, or the blank pool of a storage group)',
        body: {
          type: 'object',
          required: ['label', 'library', 'mediaType'],
          additionalProperties: false,
          properties: { label: { type: 'string', maxLength: 16 }, library: nameSchema, mediaType: nameSchema, storageGroup: { type: 'string', maxLength: 64 }, comment: { type: 'string', maxLength: 1000 } },
        },
        response: { 201: volumeSchema, ...errors },
      },
    }, async (req, reply) => reply.status(201).send(await clerk.addVolume(req.body)));

    app.get<{ Params: { label: string } }>('/volumes/:label', {
      schema: { tags: ['volumes'], summary: 'One volume', params: labelParams, response: { 200: volumeSchema, ...errors } },
    }, async (req) => clerk.getVolume(req.params.label));

    app.get<{ Params: { label: string } }>('/volumes/:label/history', {
      schema: {
        tags: ['volumes'],
        summary: 'Every change of inhibits, family, location, comment and lifecycle, oldest first (also of an erased volume, by its last label)',
        params: labelParams,
        response: {
          200: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, at: { type: 'string' }, kind: { type: 'string' }, oldValue: nullableString, value: nullableString, actor: { type: 'string' }, reason: nullableString } } },
          ...errors,
        },
      },
    }, async (req) => clerk.history(req.params.label));

    app.post<{ Params: { label: string }; Body: { kind: InhibitKind; field: InhibitField; value: string; actor?: string; reason?: string } }>('/volumes/:label/inhibits', {
      schema: {
        tags: ['volumes'],
        summary: 'Set a system or user inhibit (access: NOACCESS, NOTALLOWED, ...; state: full, readonly, migrated, ...)',
        params: labelParams,
        body: {
          type: 'object',
          required: ['kind', 'field', 'value'],
          additionalProperties: false,
          properties: { ...inhibitTarget, value: { type: 'string', maxLength: 32 }, actor: { type: 'string', minLength: 1, maxLength: 64 }, reason: { type: 'string', maxLength: 1000 } },
        },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => {
      const { actor, reason, ...change } = req.body;
      return clerk.setInhibit(req.params.label, change, actor ?? 'operator', reason);
    });

    app.delete<{ Params: { label: string }; Querystring: { kind?: InhibitKind; field?: InhibitField; actor?: string } }>('/volumes/:label/inhibits', {
      schema: {
        tags: ['volumes'],
        summary: 'Clear inhibits of one kind (user by default): one field, or both',
        params: labelParams,
        querystring: { type: 'object', additionalProperties: false, properties: { ...inhibitTarget, actor: { type: 'string', minLength: 1, maxLength: 64 } } },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => clerk.clearInhibit(req.params.label, req.query.kind ?? 'user', req.query.field, req.query.actor ?? 'operator'));

    app.get<{ Params: { label: string }; Querystring: { mode: 'read' | 'write'; size?: number } }>('/volumes/:label/available', {
      schema: {
        tags: ['volumes'],
        summary: 'May this volume be read (or written with size bytes) now? 409/507 with the inhibit when not',
        params: labelParams,
        querystring: { type: 'object', required: ['mode'], additionalProperties: false, properties: { mode: { type: 'string', enum: ['read', 'write'] }, size: { type: 'integer', minimum: 0 } } },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => clerk.checkAvailable(req.params.label, req.query.mode, { size: req.query.size }));

    app.post<{ Body: NextWriteRequest }>('/volumes/next-write', {
      schema: {
        tags: ['volumes'],
        summary: 'Choose (and assign) the volume the next file of a family goes to',
        body: {
          type: 'object',
          required: ['library', 'storageGroup', 'fileFamily', 'wrapper', 'size'],
          additionalProperties: false,
          properties: {
            library: nameSchema, storageGroup: nameSchema, fileFamily: nameSchema, wrapper: nameSchema,
            size: { type: 'integer', minimum: 0 },
            veto: { type: 'array', items: labelSchema, maxItems: 10000 },
          },
        },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => clerk.nextWriteVolume(req.body));

    app.post<{ Params: { label: string }; Body: { eodFileNo: number; bytesWritten: number } }>('/volumes/:label/eod', {
      schema: {
        tags: ['volumes'],
        summary: 'Advance end-of-data and use up space after a write (never backwards: 409)',
        params: labelParams,
        body: { type: 'object', required: ['eodFileNo', 'bytesWritten'], additionalProperties: false, properties: { eodFileNo: { type: 'integer', minimum: 1 }, bytesWritten: { type: 'integer', minimum: 0 } } },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => clerk.recordWrite(req.params.label, req.body));
  };
}
