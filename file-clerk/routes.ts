import type { FastifyPluginAsync } from 'fastify';
import { MAX_PATH_LENGTH } from '../src/namespace/paths.ts';
import { MAX_WIDTH } from '../src/namespace/tags.ts';
import type { CreateWritingFile, FileClerk, Position } from './service.ts';

const nullableString = { type: ['string', 'null'] } as const;
const nullableInt = { type: ['integer', 'null'] } as const;
const labelSchema = { type: 'string', pattern: '^[A-Z0-9]{6,8}$', description: 'volume label, e.g. TS0001L9' } as const;
const bfidSchema = { type: 'string', pattern: '^[A-Za-z]*[0-9]{11,16}$', description: 'bfid, e.g. TAPE176400000000012' } as const;
const crcSchema = { type: 'integer', minimum: 0, maximum: 4294967295, description: 'adler32' } as const;
const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };

export const fileRecordSchema = {
  type: 'object',
  properties: {
    bfid: { type: 'string' },
    path: { type: 'string' },
    state: { type: 'string', enum: ['writing', 'active', 'deleted'] },
    abandoned: { type: 'boolean' },
    size: { type: 'integer' },
    crc: nullableInt,
    volume: nullableString,
    fileNo: nullableInt,
    locationCookie: nullableString,
    storageGroup: { type: 'string' },
    fileFamily: { type: 'string' },
    wrapper: { type: 'string' },
    library: { type: 'string' },
    drive: nullableString,
    uid: { type: 'integer' },
    gid: { type: 'integer' },
    owner: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    deletedAt: nullableString,
    abandonedAt: nullableString,
  },
} as const;

const { bfid, path, size, library, storageGroup, fileFamily, wrapper } = fileRecordSchema.properties;
const writingFileSchema = {
  type: 'object',
  properties: { bfid, path, size, library, storageGroup, fileFamily, wrapper, width: { type: 'integer' } },
} as const;

const bfidParams = { type: 'object', required: ['bfid'], properties: { bfid: bfidSchema } } as const;

/** `/files` (create, info, position, activate, abandon) and `/volumes/:label/files` (tape order). */
export function fileClerkRoutes(clerk: FileClerk): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { path?: string; bfid?: string; volume?: string; fileNo?: number } }>('/files/info', {
      schema: {
        tags: ['files'],
        summary: 'One file by path (the live file, else the latest deleted one), by bfid, or by volume and fileNo',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { path: { type: 'string', minLength: 1, maxLength: MAX_PATH_LENGTH }, bfid: { type: 'string', minLength: 1, maxLength: 64 }, volume: labelSchema, fileNo: { type: 'integer', minimum: 1 } },
          oneOf: [{ required: ['path'] }, { required: ['bfid'] }, { required: ['volume', 'fileNo'] }],
        },
        response: { 200: fileRecordSchema, ...errors },
      },
    }, async (req) => {
      const q = req.query;
      if (q.volume !== undefined && q.fileNo !== undefined) return clerk.fileAt(q.volume, q.fileNo);
      return clerk.fileInfo(q.path ?? q.bfid!);
    });

    app.post<{ Body: CreateWritingFile }>('/files', {
      schema: {
        tags: ['files'],
        summary: "Create a file in state 'writing' from its directory's tags (encp, before queueing the write)",
        body: {
          type: 'object',
          required: ['path', 'size'],
          additionalProperties: false,
          properties: {
            path: { type: 'string', minLength: 1, maxLength: MAX_PATH_LENGTH },
            size: { type: 'integer', minimum: 0 },
            uid: { type: 'integer', minimum: 0 },
            gid: { type: 'integer', minimum: 0 },
            owner: { type: 'string', minLength: 1, maxLength: 64 },
            overrides: {
              type: 'object',
              additionalProperties: false,
              properties: { fileFamily: { type: 'string', maxLength: 64 }, storageGroup: { type: 'string', maxLength: 64 }, width: { type: 'integer', minimum: 1, maximum: MAX_WIDTH } },
            },
          },
        },
        response: { 201: writingFileSchema, ...errors },
      },
    }, async (req, reply) => reply.status(201).send(await clerk.createWritingFile(req.body)));

    app.post<{ Params: { bfid: string }; Body: Position }>('/files/:bfid/position', {
      schema: {
        tags: ['files'],
        summary: 'The mover records where a file being written goes on tape',
        params: bfidParams,
        body: {
          type: 'object',
          required: ['volume', 'fileNo'],
          additionalProperties: false,
          properties: { volume: labelSchema, fileNo: { type: 'integer', minimum: 1 }, drive: { type: 'string', maxLength: 64 }, crc: crcSchema },
        },
        response: { 200: fileRecordSchema, ...errors },
      },
    }, async (req) => clerk.assignPosition(req.params.bfid, req.body));

    app.post<{ Params: { bfid: string }; Body: { crc: number } }>('/files/:bfid/activate', {
      schema: {
        tags: ['files'],
        summary: "writing → active, once the bytes are on tape, end-of-data is past the file and the CRCs agree",
        params: bfidParams,
        body: { type: 'object', required: ['crc'], additionalProperties: false, properties: { crc: crcSchema } },
        response: { 200: fileRecordSchema, ...errors },
      },
    }, async (req) => clerk.activate(req.params.bfid, req.body.crc));

    app.post<{ Params: { bfid: string } }>('/files/:bfid/abandon', {
      schema: {
        tags: ['files'],
        summary: 'A write failed: remove the row, or keep it (abandoned, bytes unknown) when it has a tape position',
        params: bfidParams,
        response: { 200: { type: 'object', properties: { bfid: { type: 'string' }, outcome: { type: 'string', enum: ['removed', 'abandoned'] } } }, ...errors },
      },
    }, async (req) => clerk.abandonWriting(req.params.bfid));

    app.get<{ Params: { label: string } }>('/volumes/:label/files', {
      schema: {
        tags: ['volumes'],
        summary: 'Every file row on a volume, in tape order',
        // A deleted volume (LABEL.deleted) still lists the files it held.
        params: { type: 'object', required: ['label'], properties: { label: { ...labelSchema, pattern: '^[A-Z0-9]{6,8}(\\.deleted)?$' } } },
        response: { 200: { type: 'array', items: fileRecordSchema }, ...errors },
      },
    }, async (req) => clerk.volumeFiles(req.params.label));
  };
}
