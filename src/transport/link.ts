/**
 * A bidirectional frame link between a party and the coordinator. The WebSocket transport and
 * the simulator's network both implement it, so the runtimes never see the difference.
 */

/** The HTTP path on which the coordinator accepts party WebSocket connections. */
export const partyWsPath = '/v1/parties/connect';

/** One connection carrying JSON frames. */
export interface Link {
  /** Sends a frame; silently dropped once the link is closed. */
  send(frame: unknown): void;
  close(reason: string): void;
  onFrame(handler: (frame: unknown) => void): void;
  onClose(handler: (reason: string) => void): void;
  readonly isOpen: boolean;
}

/** Handshake frames (before envelopes flow). */
export interface ChallengeFrame {
  t: 'challenge';
  conn: string;
  nonce: string;
  coordinatorKey: string;
  /** The coordinator's heartbeat interval: the party times the connection's silence by it. */
  heartbeatMs?: number;
}

export interface HelloFrame {
  t: 'hello';
  partyId: string;
  identityKey: string;
  boxKey: string;
  proof: string;
  enrollMac?: string;
  /** Hash of the policy file this party enforces (signing-time rules), if any. */
  policyHash?: string;
}

export interface WelcomeFrame {
  t: 'welcome';
  conn: string;
  proof: string;
}

export interface RejectFrame {
  t: 'reject';
  code: string;
  message: string;
}

export interface EnvelopeFrame {
  t: 'env';
  e: unknown;
}

/** Domains for handshake signatures. */
export const helloDomain = 'quorate-hello-v1';
export const welcomeDomain = 'quorate-welcome-v1';
