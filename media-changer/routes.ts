import type { FastifyPluginAsync } from 'fastify';
import { TapestryError } from '../src/errors/index.ts';
import type { MediaChangerService } from './service.ts';

const labelSchema = { type: 'string', pattern: '^[A-Z0-9]{6,8}$', description: 'cartridge label (barcode), e.g. TS0001L9' } as const;
const nameSchema = { type: 'string', pattern: '^[A-Za-z0-9][-A-Za-z0-9_]*$', maxLength: 64 } as const;
const elementList = (key: string) => ({
  type: 'array',
  items: { type: 'object', properties: { [key]: { type: 'integer' }, label: { type: ['string', 'null'] } } },
}) as const;

const inventorySchema = {
  type: 'object',
  properties: {
    library: { type: 'string' },
    robot: { type: 'string' },
    mediaType: { type: 'string' },
    robotState: { type: 'string', enum: ['ready', 'busy', 'jammed'] },
    slots: elementList('slot'),
    drives: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          element: { type: 'integer' },
          label: { type: ['string', 'null'] },
          homeSlot: { type: ['integer', 'null'] },
          state: { type: ['string', 'null'] },
        },
      },
    },
    mailslots: elementList('mailslot'),
  },
} as const;

/**
 * `/libraries/:library` (robot inventory, drives, mail slots) and robot mount /
 * dismount by label and drive name.
 */
export function mediaChangerRoutes(services: readonly MediaChangerService[]): FastifyPluginAsync {
  const serviceFor = (library: string): MediaChangerService => {
    const svc = services.find((s) => s.hasLibrary(library));
    if (!svc) throw new TapestryError('NOT_FOUND', `no library "${library}"`, { context: { library } });
    return svc;
  };
  const params = { type: 'object', required: ['library'], properties: { library: nameSchema } } as const;
  const moveBody = { type: 'object', required: ['label', 'drive'], additionalProperties: false, properties: { label: labelSchema, drive: nameSchema } } as const;
  const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };

  return async (app) => {
    app.get('/libraries', {
      schema: {
        tags: ['libraries'],
        summary: 'The libraries this system serves',
        response: { 200: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, robot: { type: 'string' }, mediaType: { type: 'string' }, drives: { type: 'array', items: { type: 'string' } } } } } },
      },
    }, async () => services.flatMap((s) => s.libraries()));

    app.get<{ Params: { library: string } }>('/libraries/:library', {
      schema: { tags: ['libraries'], summary: 'Robot inventory of a library: slots, drives, mail slots', params, response: { 200: inventorySchema, ...errors } },
    }, async (req) => serviceFor(req.params.library).inventory(req.params.library));

    app.post<{ Params: { library: string }; Body: { label: string; drive: string } }>('/libraries/:library/mount', {
      schema: { tags: ['libraries'], summary: 'Move a cartridge from its slot into a drive and thread it', params, body: moveBody, response: errors },
    }, async (req) => serviceFor(req.params.library).mount(req.body.label, req.body.drive));

    app.post<{ Params: { library: string }; Body: { label: string; drive: string } }>('/libraries/:library/dismount', {
      schema: { tags: ['libraries'], summary: 'Unthread a cartridge and return it to its home slot', params, body: moveBody, response: errors },
    }, async (req) => serviceFor(req.params.library).dismount(req.body.label, req.body.drive));

    app.post<{ Params: { robot: string }; Body: { by?: string } }>('/robots/:robot/reset', {
      schema: {
        tags: ['libraries'],
        summary: 'The operator cleared the robot (jam, door): check it is ready, resolve its ROBOT_OPERATOR alarm, let its libraries mount again',
        params: { type: 'object', required: ['robot'], properties: { robot: nameSchema } },
        body: { type: 'object', additionalProperties: false, properties: { by: { type: 'string', minLength: 1, maxLength: 64 } } },
        response: { 200: { type: 'object', properties: { robot: { type: 'string' }, state: { type: 'string' }, resolved: { type: 'boolean' } } }, ...errors },
      },
    }, async (req) => {
      const svc = services.find((s) => s.robotName === req.params.robot);
      if (!svc) throw new TapestryError('NOT_FOUND', `no robot "${req.params.robot}" (robots: ${services.map((s) => s.robotName).join(', ') || 'none'})`, { context: { robot: req.params.robot } });
      return svc.reset(req.body?.by ?? 'operator');
    });
  };
}
