/**
 * Serves the robot protocol (docs/robot-protocol.md) for a SimRobot on any
 * Duplex: a SerialPort opened on the simulator's end of a socat pty pair, or a
 * mock serial port.
 *
 * Concurrency: requests are answered strictly in arrival order. A request that
 * arrives while the accessor is moving waits in the server's queue (the robot
 * has one accessor); only when more than `maxQueued` requests wait does the
 * server answer `ERR 16 BUSY` at once.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from '../src/logging/logger.ts';
import { LineSplitter, type SplitItem } from '../src/hardware/line-splitter.ts';
import { CRLF, formatData, formatErr, formatEvent, formatOk, parseRequest, peekTag } from '../src/hardware/robot-protocol.ts';
import type { SimRobot } from './robot.ts';

export interface RobotServer {
  /** Stop reading and unsubscribe; resolves when the command in progress has finished. Does not close the stream. */
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Requests allowed to wait behind the one executing before the server answers BUSY. */
  maxQueued?: number;
}

export function serveRobot(robot: SimRobot, stream: Duplex, log?: Logger, options: ServeOptions = {}): RobotServer {
  const maxQueued = options.maxQueued ?? 64;
  const splitter = new LineSplitter();
  let closed = false;
  let queued = 0;
  // The chain of replies: each item is answered after the previous one, so replies leave in request order.
  let chain: Promise<void> = Promise.resolve();

  const send = (text: string): void => {
    // A closed SerialPort would hold writes until it reopens; drop them instead.
    if (closed || stream.destroyed || !stream.writable || (stream as { isOpen?: boolean }).isOpen === false) return;
    // One write per reply so an event line cannot land between a reply's data lines.
    stream.write(text);
  };

  const answer = async (item: SplitItem): Promise<void> => {
    if (item.kind === 'error') {
      log?.warn({ event: 'robot.protocol.bad_line', robot: robot.name, reason: item.reason, head: item.head });
      send(formatErr(peekTag(item.head), 1, item.reason) + CRLF);
      return;
    }
    if (item.text === '') return; // blank lines are harmless (someone pressed return in a terminal)
    const req = parseRequest(item.text);
    if (!req.ok) {
      log?.warn({ event: 'robot.protocol.syntax', robot: robot.name, reason: req.reason, line: item.text });
      send(formatErr(req.tag, 1, req.reason) + CRLF);
      return;
    }
    const started = Date.now();
    const result = await robot.execute(req.command);
    if (result === null) return; // fault injection: reply dropped
    let reply = '';
    if (result.ok) {
      for (const d of result.data) reply += formatData(req.tag, d) + CRLF;
      reply += formatOk(req.tag, result.text) + CRLF;
    } else {
      reply = formatErr(req.tag, result.code, result.text) + CRLF;
    }
    log?.debug({ event: 'robot.command', robot: robot.name, tag: req.tag, verb: req.command.verb, ok: result.ok, ms: Date.now() - started });
    send(reply);
  };

  const onData = (chunk: Buffer): void => {
    if (closed) return;
    for (const item of splitter.push(chunk)) {
      if (queued > maxQueued && item.kind === 'line' && item.text !== '') {
        send(formatErr(peekTag(item.text), 16, 'request queue full') + CRLF);
        continue;
      }
      queued++;
      chain = chain
        .then(() => (closed ? undefined : answer(item)))
        .catch((err: unknown) => log?.error({ event: 'robot.server.error', robot: robot.name, err }))
        .finally(() => queued--);
    }
  };

  // A closed or failing port must not crash the simulator; the robot keeps its state.
  const onError = (err: Error): void => log?.warn({ event: 'robot.server.stream_error', robot: robot.name, err });
  const unsubscribe = robot.onEvent((event) => send(formatEvent(event) + CRLF));

  stream.on('data', onData);
  stream.on('error', onError);

  return {
    async close(): Promise<void> {
      if (closed) return chain;
      closed = true;
      unsubscribe();
      stream.off('data', onData);
      // onError stays attached: a reply we wrote may still fail after close, and an
      // 'error' event without a listener would throw.
      await chain;
    },
  };
}
