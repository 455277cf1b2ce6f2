/**
 * A bidirectional frame link between a party and the coordinator. The WebSocket transport and
 * the simulator's network both implement it, so the runtimes never see the difference. What
 * travels on it (frames, envelopes) is defined, built and validated in wire.ts.
 */

/** The HTTP path on which the coordinator accepts party WebSocket connections. */
export const partyWsPath = '/v1/parties/connect';

/** One connection carrying JSON frames. */
export interface Link {
  /** Sends a frame (built by wire.ts); silently dropped once the link is closed. */
  send(frame: unknown): void;
  close(reason: string): void;
  /** Frames arrive as untrusted JSON: validate them (wire.ts) before use. */
  onFrame(handler: (frame: unknown) => void): void;
  onClose(handler: (reason: string) => void): void;
  readonly isOpen: boolean;
}
