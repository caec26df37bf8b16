/**
 * JSON schemas of the report responses (fastify serialises with them, so every
 * field a report returns must be listed here, or it is dropped from the reply).
 */

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const nullStr = { type: ['string', 'null'] } as const;
const nullInt = { type: ['integer', 'null'] } as const;

export const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } } as const;

const location = {
  type: 'object',
  properties: { kind: str, ref: nullStr, inLibrary: { type: ['boolean', 'null'] }, where: str },
} as const;
const nullableLocation = { ...location, type: ['object', 'null'] } as const;

const inhibits = {
  type: 'object',
  properties: { systemAccess: str, systemState: str, userAccess: str, userState: str },
} as const;

const fileAge = { type: ['object', 'null'], properties: { path: str, bfid: str, createdAt: str } } as const;

export const filesReportSchema = {
  type: 'object',
  properties: {
    volumes: {
      type: 'array',
      items: { type: 'object', properties: { volume: str, volumeFamily: str, activeFiles: int, activeBytes: int, oldest: fileAge, youngest: fileAge } },
    },
    files: {
      type: 'array',
      items: {
        type: 'object',
        properties: { volume: str, fileNo: int, bfid: str, size: int, crc: nullInt, path: str, state: str, createdAt: str },
      },
    },
  },
} as const;

export const whereReportSchema = {
  type: 'object',
  properties: {
    path: str,
    kind: { type: 'string', enum: ['file', 'directory'] },
    truncated: { type: 'boolean' },
    files: {
      type: 'array',
      items: {
        type: 'object',
        properties: { path: str, bfid: str, state: str, size: int, library: str, volume: nullStr, fileNo: nullInt, location: nullableLocation },
      },
    },
  },
} as const;

const volumeCommon = {
  label: str, library: str, volumeFamily: str, activeFiles: int, remainingBytes: int, mounts: int, lastMountAt: nullStr, location, inhibits,
} as const;

export const familyReportSchema = {
  type: 'object',
  properties: {
    family: str,
    library: nullStr,
    olderThan: nullStr,
    familyVolumes: int,
    volumes: { type: 'array', items: { type: 'object', properties: { ...volumeCommon, activeBytes: int, youngestFileAt: nullStr } } },
  },
} as const;

export const volumesReportSchema = {
  type: 'object',
  properties: {
    inhibitedOnly: { type: 'boolean' },
    volumes: { type: 'array', items: { type: 'object', properties: volumeCommon } },
  },
} as const;

const usageLine = {
  type: 'object',
  properties: { library: str, storageGroup: str, fileFamily: nullStr, volumes: int, activeFiles: int, activeBytes: int, freeBytes: int },
} as const;

export const usageReportSchema = {
  type: 'object',
  properties: { families: { type: 'array', items: usageLine }, storageGroups: { type: 'array', items: usageLine } },
} as const;

const transferCounts = {
  reads: int, writes: int, readErrors: int, writeErrors: int, bytesRead: int, bytesWritten: int, lastErrorAt: nullStr, lastError: nullStr,
} as const;

export const drivesReportSchema = {
  type: 'array',
  items: { type: 'object', properties: { drive: str, library: str, state: str, mounts: int, ...transferCounts } },
} as const;

export const volumeStatsReportSchema = {
  type: 'array',
  items: { type: 'object', properties: { label: str, library: str, mounts: int, lastMountAt: nullStr, ...transferCounts } },
} as const;
