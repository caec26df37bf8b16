/**
 * The wire protocol (DESIGN §5): plain message types, their codec and the
 * frame layer. Import from here; the generated protobuf code in `generated/`
 * is an implementation detail of codec.ts.
 */
export * from './types.ts';
export * from './codec.ts';
export * from './frames.ts';
