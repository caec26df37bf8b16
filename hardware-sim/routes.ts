import type { FastifyPluginAsync } from 'fastify';
import { TapestryError } from '../src/errors/index.ts';
import type { SimulatedLibrary } from './library.ts';
import { putIntoMailslots, showMailslots, takeFromMailslots } from './mailslot.ts';

const name = { type: 'string', pattern: '^[A-Za-z0-9][-A-Za-z0-9_]*$', maxLength: 64 } as const;
const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };
const okBody = { type: 'object', properties: { ok: { type: 'boolean' } } } as const;
const mailslotsBody = {
  type: 'object',
  properties: {
    robot: { type: 'string' },
    mailslots: { type: 'array', items: { type: 'object', properties: { mailslot: { type: 'integer' }, label: { type: ['string', 'null'] } } } },
  },
} as const;
const FAULT_CODES = ['MEDIA_ERROR', 'DRIVE_ERROR', 'END_OF_TAPE', 'DRIVE_NOT_READY'] as const;

/**
 * The simulator's fault-injection API (DESIGN §6 "Faults"): what tests and
 * operators call instead of monkey-patching. Only mounted when the library is simulated.
 */
export function simRoutes(sim: SimulatedLibrary): FastifyPluginAsync {
  return async (app) => {
    app.get('/sim/faults', {
      schema: { tags: ['simulator'], summary: 'Pending simulated faults of every robot and drive', response: { 200: { type: 'object', additionalProperties: true } } },
    }, async () => ({
      robots: Object.fromEntries([...sim.robots].map(([n, r]) => [n, r.robot.describeFaults()])),
      drives: Object.fromEntries([...sim.drives].map(([n, d]) => [n, { down: d.isDown, pending: d.faults.describe() }])),
    }));

    app.post<{ Params: { drive: string }; Body: { kind: string; code?: (typeof FAULT_CODES)[number] } }>('/sim/drives/:drive/faults', {
      schema: {
        tags: ['simulator'],
        summary: "Fail a drive's next read, write or load, or set it down/up",
        params: { type: 'object', required: ['drive'], properties: { drive: name } },
        body: {
          type: 'object',
          required: ['kind'],
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: ['fail-next-read', 'fail-next-write', 'fail-next-load', 'corrupt-next-write', 'down', 'up', 'clear'] },
            code: { type: 'string', enum: FAULT_CODES },
          },
        },
        response: { 200: okBody, ...errors },
      },
    }, async (req) => {
      const drive = sim.drive(req.params.drive);
      const { kind, code } = req.body;
      if (kind === 'fail-next-read') drive.faults.failNextRead(code);
      else if (kind === 'fail-next-write') drive.faults.failNextWrite(code);
      else if (kind === 'fail-next-load') drive.faults.failNextLoad(code);
      else if (kind === 'corrupt-next-write') drive.faults.corruptNextWrite();
      else if (kind === 'clear') drive.faults.clear();
      else drive.setDown(kind === 'down');
      req.log.warn({ event: 'sim.fault', drive: drive.name, kind, code });
      return { ok: true };
    });

    app.post<{ Params: { label: string }; Body: { kind: string; record?: number; bytes?: number | null; on?: boolean } }>('/sim/cartridges/:label/faults', {
      schema: {
        tags: ['simulator'],
        summary: 'Corrupt a record, end the tape early, or set the write-protect tab of a cartridge',
        params: { type: 'object', required: ['label'], properties: { label: { type: 'string', pattern: '^[A-Z0-9]{6,8}$' } } },
        body: {
          type: 'object',
          required: ['kind'],
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: ['corrupt-record', 'corrupt-record-silently', 'early-eot', 'write-protect'] },
            record: { type: 'integer', minimum: 0 },
            bytes: { type: ['integer', 'null'], minimum: 0 },
            on: { type: 'boolean' },
          },
        },
        response: { 200: okBody, ...errors },
      },
    }, async (req) => {
      const { label } = req.params;
      const b = req.body;
      if (b.kind === 'corrupt-record' || b.kind === 'corrupt-record-silently') {
        if (b.record === undefined) throw new TapestryError('USERERROR', `${b.kind} needs "record" (the record index from beginning of tape)`);
        await sim.store.corruptRecord(label, b.record, { silent: b.kind === 'corrupt-record-silently' });
      } else if (b.kind === 'early-eot') {
        if (b.bytes === undefined) throw new TapestryError('USERERROR', 'early-eot needs "bytes" (null clears it)');
        await sim.store.setEarlyEndOfTape(label, b.bytes);
      } else {
        if (b.on === undefined) throw new TapestryError('USERERROR', 'write-protect needs "on": true or false');
        await sim.store.setWriteProtected(label, b.on);
      }
      req.log.warn({ event: 'sim.fault', label, ...b });
      return { ok: true };
    });

    app.post<{ Params: { robot: string }; Body: { kind: string; code?: number; count?: number; ms?: number } }>('/sim/robots/:robot/faults', {
      schema: {
        tags: ['simulator'],
        summary: 'Make the robot return an error code, jam, be busy, or drop a reply',
        params: { type: 'object', required: ['robot'], properties: { robot: name } },
        body: {
          type: 'object',
          required: ['kind'],
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: ['fail-next', 'jam', 'clear-jam', 'busy', 'drop-next-reply', 'clear'] },
            code: { type: 'integer', minimum: 1, maximum: 99 },
            count: { type: 'integer', minimum: 1, maximum: 1000 },
            ms: { type: 'integer', minimum: 0 },
          },
        },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, released: { type: ['string', 'null'] } } }, ...errors },
      },
    }, async (req) => {
      const robot = sim.robot(req.params.robot);
      const b = req.body;
      let released: string | null = null;
      switch (b.kind) {
        case 'fail-next':
          if (b.code === undefined) throw new TapestryError('USERERROR', 'fail-next needs "code" (a robot error code, see docs/robot-protocol.md)');
          robot.failNext(b.code, b.count ?? 1);
          break;
        case 'jam':
          robot.jam();
          break;
        case 'clear-jam':
          released = robot.clearJam();
          break;
        case 'busy':
          robot.setBusy(b.ms ?? 0);
          break;
        case 'drop-next-reply':
          robot.dropNextReply(b.count ?? 1);
          break;
        default:
          robot.clearFaults();
      }
      req.log.warn({ event: 'sim.fault', robot: robot.name, ...b });
      return { ok: true, released };
    });

    // The operator at the mail slot: what `tapestry sim mailslot show|take|put` calls.
    app.get<{ Params: { robot: string } }>('/sim/robots/:robot/mailslots', {
      schema: { tags: ['simulator'], summary: "A robot's mail slots and what they hold", params: { type: 'object', required: ['robot'], properties: { robot: name } }, response: { 200: mailslotsBody, ...errors } },
    }, async (req) => showMailslots(sim, req.params.robot));

    app.post<{ Params: { robot: string } }>('/sim/robots/:robot/mailslots/take', {
      schema: {
        tags: ['simulator'],
        summary: 'The operator empties the mail slots; the cartridges go to the shelf',
        params: { type: 'object', required: ['robot'], properties: { robot: name } },
        response: { 200: { type: 'object', properties: { robot: { type: 'string' }, taken: { type: 'array', items: { type: 'string' } } } }, ...errors },
      },
    }, async (req) => {
      const taken = takeFromMailslots(sim, req.params.robot);
      req.log.info({ event: 'sim.mailslot.take', robot: req.params.robot, labels: taken });
      return { robot: req.params.robot, taken };
    });

    app.post<{ Params: { robot: string }; Body: { labels: string[] } }>('/sim/robots/:robot/mailslots/put', {
      schema: {
        tags: ['simulator'],
        summary: 'The operator puts cartridges (from the shelf, or new blank ones) into free mail slots',
        params: { type: 'object', required: ['robot'], properties: { robot: name } },
        body: {
          type: 'object',
          required: ['labels'],
          additionalProperties: false,
          properties: { labels: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', pattern: '^[A-Z0-9]{6,8}$' } } },
        },
        response: {
          200: { type: 'object', properties: { robot: { type: 'string' }, put: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, created: { type: 'boolean' } } } } } },
          ...errors,
        },
      },
    }, async (req) => {
      const put = await putIntoMailslots(sim, req.params.robot, req.body.labels);
      req.log.info({ event: 'sim.mailslot.put', robot: req.params.robot, labels: req.body.labels });
      return { robot: req.params.robot, put };
    });
  };
}
