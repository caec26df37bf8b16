import type { FastifyPluginAsync } from 'fastify';
import { MAX_PATH_LENGTH } from './paths.ts';
import type { NamespaceService } from './service.ts';
import { TAG_NAMES } from './tags.ts';

const pathSchema = { type: 'string', minLength: 1, maxLength: MAX_PATH_LENGTH, description: 'absolute namespace path, e.g. /exp/raw' } as const;
const pathQuery = { type: 'object', required: ['path'], additionalProperties: false, properties: { path: pathSchema } } as const;
const tagParams = { type: 'object', required: ['tag'], properties: { tag: { type: 'string', maxLength: 64, description: `one of ${TAG_NAMES.join(', ')}` } } } as const;
const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };
const nullableString = { type: ['string', 'null'] } as const;

/** A directory or a file entry (`kind` says which; file fields are absent on directories). */
export const entrySchema = {
  type: 'object',
  properties: {
    kind: { type: 'string', enum: ['dir', 'file'] },
    name: { type: 'string' },
    path: { type: 'string' },
    owner: { type: 'string' },
    group: { type: 'string' },
    mode: { type: 'integer' },
    bfid: { type: 'string' },
    state: { type: 'string', enum: ['writing', 'active', 'deleted'] },
    size: { type: 'integer' },
    uid: { type: 'integer' },
    gid: { type: 'integer' },
    volume: nullableString,
    fileNo: { type: ['integer', 'null'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    created: { type: 'array', items: { type: 'string' }, description: 'mkdir: the directories this call created' },
  },
} as const;

const tagViewSchema = {
  type: 'object',
  properties: {
    tag: { type: 'string', enum: TAG_NAMES },
    value: nullableString,
    origin: { ...nullableString, description: 'the directory that sets the value; null for a built-in default' },
    source: { type: 'string', enum: ['here', 'inherited', 'default', 'unset'] },
  },
} as const;

/** `/namespace`: directories, listings, file removal and directory tags. */
export function namespaceRoutes(ns: NamespaceService): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { path: string } }>('/namespace', {
      schema: {
        tags: ['namespace'],
        summary: 'List a directory (sub-directories and live files), or show one file',
        querystring: pathQuery,
        response: {
          200: { type: 'object', properties: { path: { type: 'string' }, kind: { type: 'string', enum: ['dir', 'file'] }, entries: { type: 'array', items: entrySchema } } },
          ...errors,
        },
      },
    }, async (req) => ns.list(req.query.path));

    app.get<{ Querystring: { path: string } }>('/namespace/stat', {
      schema: { tags: ['namespace'], summary: 'The entry of one path (directory or live file)', querystring: pathQuery, response: { 200: entrySchema, ...errors } },
    }, async (req) => ns.stat(req.query.path));

    app.post<{ Body: { path: string; parents?: boolean; owner?: string; group?: string; mode?: number } }>('/namespace/dirs', {
      schema: {
        tags: ['namespace'],
        summary: 'Create a directory (parents: also create missing parents, and succeed when it exists)',
        body: {
          type: 'object',
          required: ['path'],
          additionalProperties: false,
          properties: {
            path: pathSchema,
            parents: { type: 'boolean' },
            owner: { type: 'string', minLength: 1, maxLength: 64 },
            group: { type: 'string', minLength: 1, maxLength: 64 },
            mode: { type: 'integer', minimum: 0, maximum: 0o7777 },
          },
        },
        response: { 201: entrySchema, ...errors },
      },
    }, async (req, reply) => {
      const { path, ...options } = req.body;
      const dir = await ns.mkdir(path, options);
      return reply.status(201).send(dir);
    });

    app.delete<{ Querystring: { path: string } }>('/namespace/files', {
      schema: {
        tags: ['namespace'],
        summary: 'Mark a file deleted (the row and its tape position stay; volume counters move)',
        querystring: pathQuery,
        response: {
          200: { type: 'object', properties: { bfid: { type: 'string' }, path: { type: 'string' }, state: { type: 'string' }, volume: nullableString, fileNo: { type: ['integer', 'null'] } } },
          ...errors,
        },
      },
    }, async (req) => ns.removeFile(req.query.path));

    app.get<{ Querystring: { path: string } }>('/namespace/tags', {
      schema: {
        tags: ['namespace'],
        summary: 'Every tag of a directory: effective value and the directory it comes from',
        querystring: pathQuery,
        response: { 200: { type: 'object', properties: { path: { type: 'string' }, tags: { type: 'array', items: tagViewSchema } } }, ...errors },
      },
    }, async (req) => ns.tagList(req.query.path));

    app.get<{ Params: { tag: string }; Querystring: { path: string } }>('/namespace/tags/:tag', {
      schema: { tags: ['namespace'], summary: 'One tag of a directory, with its origin', params: tagParams, querystring: pathQuery, response: { 200: tagViewSchema, ...errors } },
    }, async (req) => ns.tagGet(req.query.path, req.params.tag));

    app.put<{ Params: { tag: string }; Querystring: { path: string }; Body: { value: string } }>('/namespace/tags/:tag', {
      schema: {
        tags: ['namespace'],
        summary: 'Set a tag on a directory (inherited by sub-directories that do not set it)',
        params: tagParams,
        querystring: pathQuery,
        body: { type: 'object', required: ['value'], additionalProperties: false, properties: { value: { type: 'string', maxLength: 256 } } },
        response: { 200: tagViewSchema, ...errors },
      },
    }, async (req) => ns.tagSet(req.query.path, req.params.tag, req.body.value));

    app.delete<{ Params: { tag: string }; Querystring: { path: string } }>('/namespace/tags/:tag', {
      schema: { tags: ['namespace'], summary: 'Remove a tag from a directory so it inherits again', params: tagParams, querystring: pathQuery, response: { 200: tagViewSchema, ...errors } },
    }, async (req) => ns.tagUnset(req.query.path, req.params.tag));
  };
}
