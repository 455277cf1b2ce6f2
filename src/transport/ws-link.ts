/** {@link Link} over a `ws` WebSocket: JSON text frames, bounded size and outbound buffer. */
import type { WebSocket } from 'ws';
import { outboundDelay } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { Link } from './link.ts';

/** Wraps an open WebSocket. Frames that are not JSON close the link. */
export function wsLink(socket: WebSocket): Link {
  const frameHandlers: ((frame: unknown) => void)[] = [];
  const closeHandlers: ((reason: string) => void)[] = [];
  let open = true;
  let closeReason = 'closed';
  // Chaos hook (src/core/env.ts): sends at once unless the harness injected latency.
  const delayed = outboundDelay(limits.outboundQueueFramesMax);
  const finish = (reason: string) => {
    if (!open) return;
    open = false;
    delayed.clear();
    closeReason = reason;
    for (const h of closeHandlers) h(closeReason);
  };
  socket.on('message', (data, isBinary) => {
    if (!open) return;
    if (isBinary) {
      socket.close(1003, 'binary frames are not accepted');
      finish('binary frame');
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(
        Buffer.isBuffer(data)
          ? data.toString('utf8')
          : Buffer.concat(data as Buffer[]).toString('utf8'),
      );
    } catch {
      socket.close(1007, 'frame is not JSON');
      finish('invalid JSON frame');
      return;
    }
    for (const h of frameHandlers) h(frame);
  });
  socket.on('close', () => finish('socket closed'));
  socket.on('error', (error) => finish(`socket error: ${error.message}`));
  return {
    get isOpen() {
      return open;
    },
    send(frame) {
      if (!open || socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > limits.frameBytesMax * 8) {
        socket.terminate();
        finish('outbound buffer overflow');
        return;
      }
      const text = JSON.stringify(frame);
      const queued = delayed.push(() => {
        if (open && socket.readyState === socket.OPEN) socket.send(text);
      });
      if (!queued) {
        socket.terminate();
        finish('outbound delay queue overflow');
      }
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
