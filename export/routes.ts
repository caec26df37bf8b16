import type { FastifyPluginAsync } from 'fastify';
import type { ExportRequest } from './export-volume.ts';
import type { ExportService, ImportOptions } from './service.ts';

const labelSchema = { type: 'string', pattern: '^[A-Z0-9]{6,8}$', description: 'volume label, e.g. TS0001L9' } as const;
const nameSchema = { type: 'string', pattern: '^[-A-Za-z0-9_]+$', maxLength: 64 } as const;
const absolutePath = { type: 'string', minLength: 1, maxLength: 4096, pattern: '^/' } as const;
const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };
/** A metadata document of 100,000 files is ~45 MB of JSON. */
const IMPORT_BODY_LIMIT = 512 * 1024 * 1024;

const fileSummary = {
  type: 'object',
  properties: { fileNo: { type: 'integer' }, path: { type: 'string' }, size: { type: 'integer' }, adler32: { type: 'integer' } },
} as const;

const exportResult = {
  type: 'object',
  properties: {
    label: { type: 'string' },
    out: { type: 'string' },
    metadataFile: { type: 'string' },
    csvFile: { type: 'string' },
    cartridgeCopy: { type: ['string', 'null'] },
    eodFileNo: { type: 'integer' },
    files: { type: 'array', items: fileSummary },
    deletedFiles: { type: 'integer' },
    bytes: { type: 'integer' },
  },
} as const;

const importResult = {
  type: 'object',
  properties: {
    label: { type: 'string' },
    library: { type: 'string' },
    volumeFamily: { type: 'string' },
    eodFileNo: { type: 'integer' },
    remainingBytes: { type: 'integer' },
    cartridgeDir: { type: 'string' },
    cartridgeCopied: { type: 'boolean' },
    files: {
      type: 'array',
      items: { type: 'object', properties: { ...fileSummary.properties, bfid: { type: 'string' }, replacedBfid: { type: ['string', 'null'] } } },
    },
    createdDirs: { type: 'array', items: { type: 'string' } },
    location: { type: 'object', properties: { kind: { type: 'string' }, ref: { type: ['string', 'null'] } } },
    note: { type: ['string', 'null'] },
  },
} as const;

/** `POST /volumes/:label/export` and `POST /volumes/import-metadata` (docs/export-format.md). */
export function exportRoutes(service: ExportService): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { label: string }; Body: Omit<ExportRequest, 'label'> }>('/volumes/:label/export', {
      schema: {
        tags: ['volumes'],
        summary: 'Write the volume\'s metadata (JSON + CSV, open format) and, with the simulator, a copy of its cartridge into a directory of the server\'s host',
        params: { type: 'object', required: ['label'], properties: { label: labelSchema } },
        body: {
          type: 'object',
          required: ['out'],
          additionalProperties: false,
          properties: { out: { ...absolutePath, description: 'absolute directory on the server host' }, force: { type: 'boolean', description: 'replace an earlier export of this label there' } },
        },
        response: { 200: exportResult, ...errors },
      },
    }, async (req) => service.exportVolume({ label: req.params.label, ...req.body }));

    app.post<{ Body: ImportOptions }>('/volumes/import-metadata', {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        tags: ['volumes'],
        summary: 'Register a foreign tape from its metadata after checking every file on the cartridge against it',
        body: {
          type: 'object',
          required: ['metadata'],
          additionalProperties: false,
          properties: {
            metadata: { type: 'object', description: 'the parsed <label>.metadata.json; checked strictly, every problem listed' },
            cartridge: { ...absolutePath, description: 'a cartridge directory on the server host to copy into the tapes directory' },
            library: nameSchema,
            fileFamily: nameSchema,
            storageGroup: nameSchema,
            enter: { type: 'boolean', description: 'simulator: put the cartridge into a mail slot and have the robot enter it' },
            actor: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
        response: { 201: importResult, ...errors },
      },
    }, async (req, reply) => reply.status(201).send(await service.importMetadata(req.body)));
  };
}
