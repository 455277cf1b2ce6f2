/**
 * Outbound WebSocket from a party to the coordinator, with reconnect and capped exponential
 * backoff (parties dial out: mobiles and firewalled HSM hosts cannot accept connections).
 */
import WebSocket from 'ws';
import type { Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import { wsLink } from '../transport/ws-link.ts';
import type { Link } from '../transport/link.ts';

/** How the client dials: for `wss://`, the CA (PEM) to trust instead of the system's. */
export interface DialOptions {
  /**
   * PEM of the CA that signed the coordinator's certificate, or the coordinator's own
   * self-signed certificate (pinning). Absent: the system CAs. Verification is never off.
   */
  ca?: string;
}

/**
 * Keeps one connection to `url` alive; calls `onLink` for every new open connection, after
 * `wrapLink` (identity by default; a harness wraps links with faults through it).
 *
 * The backoff starts over only once a connection has stayed open for
 * `limits.partyReconnectStableMs` (or the owner calls {@link ReconnectingClient.accepted}): a
 * coordinator that opens the socket and then refuses the party must not make it redial at the
 * minimum delay forever.
 */
export class ReconnectingClient {
  private stopped = false;
  private attempt = 0;
  private current: Link | undefined;
  private cancelRetry: () => void = () => {};
  private cancelStable: () => void = () => {};

  constructor(
    private readonly env: Env,
    private readonly url: string,
    private readonly onLink: (link: Link) => void,
    private readonly wrapLink: (link: Link) => Link = (link) => link,
    private readonly dialOptions: DialOptions = {},
  ) {}

  start(): void {
    this.dial();
  }

  /** The current connection was accepted (welcome verified): the backoff starts over. */
  accepted(): void {
    this.attempt = 0;
  }

  private dial(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.url, {
      maxPayload: limits.frameBytesMax,
      handshakeTimeout: limits.handshakeMsMax,
      ...(this.dialOptions.ca === undefined ? {} : { ca: this.dialOptions.ca }),
    });
    socket.on('open', () => {
      const link = this.wrapLink(wsLink(socket));
      this.current = link;
      this.cancelStable = this.env.setTimer(limits.partyReconnectStableMs, () => {
        if (this.current === link && link.isOpen) this.accepted();
      });
      link.onClose(() => this.scheduleReconnect());
      this.onLink(link);
    });
    socket.on('error', (error) => {
      if (socket.readyState === WebSocket.OPEN) return;
      // Why a dial failed (refused, TLS verification, DNS) is what an operator needs to see.
      this.env.log.warn({ url: this.url, error: error.message }, 'cannot connect to coordinator');
      this.scheduleReconnect();
    });
    socket.on('unexpected-response', (_request, response) => {
      this.env.log.warn(
        { url: this.url, status: response.statusCode },
        'coordinator refused the WebSocket upgrade',
      );
      socket.terminate();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.cancelRetry();
    this.cancelStable();
    this.current = undefined;
    const base = Math.min(
      limits.reconnectDelayMsMax,
      limits.reconnectDelayMsMin * 2 ** Math.min(this.attempt, 10),
    );
    // Jitter from the Env rng so reconnect storms spread out (and stay deterministic in sim).
    const jitter = ((this.env.randomBytes(1)[0] ?? 0) / 255) * base * 0.5;
    this.attempt += 1;
    this.cancelRetry = this.env.setTimer(base / 2 + jitter, () => this.dial());
  }

  stop(): void {
    this.stopped = true;
    this.cancelRetry();
    this.cancelStable();
    this.current?.close('party stopping');
  }
}
