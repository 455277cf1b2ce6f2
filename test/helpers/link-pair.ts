/** In-process links for runtime tests: what one end sends, the other end receives at once. */
import type { Link } from '../../src/transport/link.ts';

interface End {
  frames: ((frame: unknown) => void)[];
  closes: ((reason: string) => void)[];
  open: boolean;
  closeReason: string | undefined;
}

/** One end of a pair, with the reason it was closed (by either side) for assertions. */
export interface TestLink extends Link {
  readonly closeReason: string | undefined;
}

/**
 * A connected pair of in-memory links (a, b). Frames are deep-copied, as a WebSocket would;
 * closing either end closes both, as a TCP FIN would.
 */
export function linkPair(): [TestLink, TestLink] {
  const make = (): End => ({ frames: [], closes: [], open: true, closeReason: undefined });
  const a = make();
  const b = make();
  const shut = (end: End, reason: string) => {
    if (!end.open) return;
    end.open = false;
    end.closeReason = reason;
    for (const h of end.closes) h(reason);
  };
  const link = (self: End, peer: End): TestLink => ({
    get isOpen() {
      return self.open;
    },
    get closeReason() {
      return self.closeReason;
    },
    send: (frame) => {
      if (self.open && peer.open) for (const h of peer.frames) h(structuredClone(frame));
    },
    close: (reason) => {
      shut(self, reason);
      shut(peer, `peer closed: ${reason}`);
    },
    onFrame: (h) => self.frames.push(h),
    onClose: (h) => self.closes.push(h),
  });
  return [link(a, b), link(b, a)];
}
