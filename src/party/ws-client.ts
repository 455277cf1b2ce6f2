/**
 * Outbound WebSocket from a party to the coordinator, with reconnect and capped exponential
 * backoff (parties dial out: mobiles and firewalled HSM hosts cannot accept connections).
 */
import WebSocket from 'ws';
import type { Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import { wsLink } from '../transport/ws-link.ts';
import type { Link } from '../transport/link.ts';

/**
 * Keeps one connection to `url` alive; calls `onLink` for every new open connection, after
 * `wrapLink` (identity by default; a harness wraps links with faults through it).
 */
export class ReconnectingClient {
  private stopped = false;
  private attempt = 0;
  private current: Link | undefined;
  private cancelRetry: () => void = () => {};

  constructor(
    private readonly env: Env,
    private readonly url: string,
    private readonly onLink: (link: Link) => void,
    private readonly wrapLink: (link: Link) => Link = (link) => link,
  ) {}

  start(): void {
    this.dial();
  }

  private dial(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.url, {
      maxPayload: limits.frameBytesMax,
      handshakeTimeout: limits.handshakeMsMax,
    });
    socket.on('open', () => {
      this.attempt = 0;
      const link = this.wrapLink(wsLink(socket));
      this.current = link;
      link.onClose(() => this.scheduleReconnect());
      this.onLink(link);
    });
    socket.on('error', () => {
      if (socket.readyState !== WebSocket.OPEN) this.scheduleReconnect();
    });
    socket.on('unexpected-response', () => socket.terminate());
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.cancelRetry();
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
    this.current?.close('party stopping');
  }
}
