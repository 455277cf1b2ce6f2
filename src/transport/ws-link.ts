/** {@link Link} over a `ws` WebSocket: JSON text frames, bounded size and outbound buffer. */
import type { RawData, WebSocket } from 'ws';
import { limits } from '../core/limits.ts';
import type { Link } from './link.ts';

/** The text of a non-binary `ws` message, whichever buffer shape `ws` delivered it in. */
function messageText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** The JSON frame of a text message, or undefined if it is not JSON. */
function parseFrame(data: RawData): { frame: unknown } | undefined {
  try {
    return { frame: JSON.parse(messageText(data)) };
  } catch {
    return undefined;
  }
}

/** Wraps an open WebSocket. Binary frames and frames that are not JSON close the link. */
export function wsLink(socket: WebSocket): Link {
  const frameHandlers: ((frame: unknown) => void)[] = [];
  const closeHandlers: ((reason: string) => void)[] = [];
  let open = true;
  const finish = (reason: string) => {
    if (!open) return;
    open = false;
    for (const h of closeHandlers) h(reason);
  };
  const refuse = (code: number, message: string, reason: string) => {
    socket.close(code, message);
    finish(reason);
  };
  socket.on('message', (data, isBinary) => {
    if (!open) return;
    if (isBinary) return refuse(1003, 'binary frames are not accepted', 'binary frame');
    const parsed = parseFrame(data);
    if (parsed === undefined) return refuse(1007, 'frame is not JSON', 'invalid JSON frame');
    for (const h of frameHandlers) h(parsed.frame);
  });
  socket.on('close', () => finish('socket closed'));
  socket.on('error', (error) => finish(`socket error: ${error.message}`));
  return {
    get isOpen() {
      return open;
    },
    send(frame) {
      if (!open || socket.readyState !== socket.OPEN) return;
      // A peer that stops reading must not grow our memory without bound.
      if (socket.bufferedAmount > limits.frameBytesMax * 8) {
        socket.terminate();
        finish('outbound buffer overflow');
        return;
      }
      socket.send(JSON.stringify(frame));
    },
    close(reason) {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) {
        socket.close(1000, reason.slice(0, 100));
      }
      finish(reason);
    },
    onFrame(handler) {
      frameHandlers.push(handler);
    },
    onClose(handler) {
      closeHandlers.push(handler);
    },
  };
}
