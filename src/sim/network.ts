/**
 * The simulated network: one {@link Link} per party connection (parties dial out to the
 * coordinator, a star). Frames are deep-copied through JSON, as a WebSocket would, and each
 * direction of each party's path has its own fault settings: blocked (partition; frames held
 * like TCP retransmissions, or dropped), drop, duplicate, reorder and extra delay. Without
 * faults a direction is FIFO with a small seeded latency. Closing an end sends a FIN that
 * travels like a frame; a frame that reaches a closed end answers with a reset. Every queue
 * is bounded: a direction with too many frames in flight or held resets the connection.
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { Link } from '../transport/link.ts';
import type { Scheduler } from './scheduler.ts';
import type { SeededRandom } from '../core/seeded-random.ts';
import type { Incarnation } from './sim-env.ts';

/** `up` is party → coordinator, `down` is coordinator → party. */
export type Direction = 'up' | 'down';

/** Faults on one direction of one party's path. */
export interface DirectionFault {
  blocked: boolean;
  /** While blocked: hold frames and deliver them on heal (TCP) instead of dropping them. */
  hold: boolean;
  dropP: number;
  dupP: number;
  reorderP: number;
  delayMs: number;
  jitterMs: number;
}

/** A fault-free direction. */
export function cleanFault(): DirectionFault {
  return { blocked: false, hold: true, dropP: 0, dupP: 0, reorderP: 0, delayMs: 0, jitterMs: 0 };
}

type Packet = { kind: 'frame'; frame: unknown } | { kind: 'fin'; reason: string } | { kind: 'rst' };

/** Counters for the run report. */
export interface NetworkStats {
  framesSent: number;
  framesDelivered: number;
  framesDropped: number;
  framesDuplicated: number;
  framesReordered: number;
  framesHeld: number;
  resets: number;
  connections: number;
}

/** One end of a connection. */
class SimLinkEnd implements Link {
  open = true;
  private readonly frameHandlers: ((frame: unknown) => void)[] = [];
  private readonly closeHandlers: ((reason: string) => void)[] = [];

  constructor(
    private readonly conn: SimConnection,
    readonly dir: Direction,
    readonly owner: Incarnation,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  send(frame: unknown): void {
    if (!this.open || !this.owner.alive) return;
    // A WebSocket carries JSON text: the receiver never shares an object with the sender.
    const copy: unknown = JSON.parse(JSON.stringify(frame));
    this.conn.net.stats.framesSent += 1;
    this.conn.net.transmit(this.conn, this.dir, { kind: 'frame', frame: copy });
  }

  close(reason: string): void {
    if (!this.open) return;
    this.finish(reason);
    this.conn.net.transmit(this.conn, this.dir, { kind: 'fin', reason });
  }

  onFrame(handler: (frame: unknown) => void): void {
    this.frameHandlers.push(handler);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Closes this end and tells its (live) process. */
  finish(reason: string): void {
    if (!this.open) return;
    this.open = false;
    if (!this.owner.alive) return;
    for (const h of this.closeHandlers) h(reason);
  }

  /** The owning process died: the end is gone, nobody is told, the kernel sends a FIN. */
  kill(): void {
    if (!this.open) return;
    this.open = false;
    this.conn.net.transmit(this.conn, this.dir, { kind: 'fin', reason: 'peer process died' });
  }

  receive(frame: unknown): void {
    if (!this.open || !this.owner.alive) return;
    for (const h of this.frameHandlers) h(frame);
  }
}

/** A party ↔ coordinator connection. */
export class SimConnection {
  readonly partyEnd: SimLinkEnd;
  readonly coordinatorEnd: SimLinkEnd;
  readonly inFlight: Record<Direction, number> = { up: 0, down: 0 };
  readonly lastDeliveryMs: Record<Direction, number> = { up: 0, down: 0 };

  constructor(
    readonly net: SimNetwork,
    readonly partyId: string,
    party: Incarnation,
    coordinator: Incarnation,
  ) {
    this.partyEnd = new SimLinkEnd(this, 'up', party);
    this.coordinatorEnd = new SimLinkEnd(this, 'down', coordinator);
  }

  /** The end that receives frames travelling in `dir`. */
  receiver(dir: Direction): SimLinkEnd {
    return dir === 'up' ? this.coordinatorEnd : this.partyEnd;
  }

  sender(dir: Direction): SimLinkEnd {
    return dir === 'up' ? this.partyEnd : this.coordinatorEnd;
  }
}

const opposite = (dir: Direction): Direction => (dir === 'up' ? 'down' : 'up');

/** All paths and connections of one simulated run. */
export class SimNetwork {
  readonly stats: NetworkStats = {
    framesSent: 0,
    framesDelivered: 0,
    framesDropped: 0,
    framesDuplicated: 0,
    framesReordered: 0,
    framesHeld: 0,
    resets: 0,
    connections: 0,
  };
  private readonly faults = new Map<string, Record<Direction, DirectionFault>>();
  private readonly held = new Map<string, { conn: SimConnection; packet: Packet }[]>();
  private readonly connections: SimConnection[] = [];

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: SeededRandom,
    /** One-way latency without faults: base plus up to `jitterMs`. */
    private readonly baseLatencyMs: number,
    private readonly baseJitterMs: number,
  ) {}

  /** The mutable fault settings of one direction of a party's path. */
  fault(partyId: string, dir: Direction): DirectionFault {
    let f = this.faults.get(partyId);
    if (!f) {
      f = { up: cleanFault(), down: cleanFault() };
      this.faults.set(partyId, f);
    }
    return f[dir];
  }

  /** Replaces a direction's faults; releasing a block delivers held frames in order. */
  setFault(partyId: string, dir: Direction, next: DirectionFault): void {
    const f = this.fault(partyId, dir);
    const wasBlocked = f.blocked;
    Object.assign(f, next);
    if (wasBlocked && !f.blocked) this.release(partyId, dir);
  }

  /** True if nothing blocks `dir` for this party (loss may still apply). */
  pathOpen(partyId: string, dir: Direction): boolean {
    return !this.fault(partyId, dir).blocked;
  }

  /** Round-trip time of a connection handshake on a clean path. */
  handshakeRttMs(): number {
    return 2 * this.baseLatencyMs + this.baseJitterMs;
  }

  /** Opens a connection (the dialer has checked the path). */
  connect(partyId: string, party: Incarnation, coordinator: Incarnation): SimConnection {
    assert(this.connections.length < limits.connectionsMax * 64, 'connection count bounded');
    const conn = new SimConnection(this, partyId, party, coordinator);
    this.connections.push(conn);
    this.stats.connections += 1;
    return conn;
  }

  /** A process died: every end it owned vanishes and the peers get a FIN. */
  killEndsOf(incarnation: Incarnation): void {
    for (const conn of this.connections) {
      if (conn.partyEnd.owner === incarnation) conn.partyEnd.kill();
      if (conn.coordinatorEnd.owner === incarnation) conn.coordinatorEnd.kill();
    }
  }

  /** Resets a connection at both ends (both processes are told). */
  reset(conn: SimConnection, reason: string): void {
    this.stats.resets += 1;
    conn.partyEnd.finish(reason);
    conn.coordinatorEnd.finish(reason);
  }

  /** Resets every open connection of a party. */
  resetParty(partyId: string, reason: string): void {
    for (const conn of this.connections) {
      if (conn.partyId === partyId && (conn.partyEnd.open || conn.coordinatorEnd.open))
        this.reset(conn, reason);
    }
  }

  transmit(conn: SimConnection, dir: Direction, packet: Packet): void {
    const f = this.fault(conn.partyId, dir);
    if (f.blocked) {
      if (!f.hold) {
        this.stats.framesDropped += 1;
        return;
      }
      const key = `${conn.partyId}|${dir}`;
      const queue = this.held.get(key) ?? [];
      if (queue.length >= limits.simHeldFramesMax) {
        this.reset(conn, 'held frames overflow');
        return;
      }
      queue.push({ conn, packet });
      this.held.set(key, queue);
      this.stats.framesHeld += 1;
      return;
    }
    if (packet.kind === 'frame' && f.dropP > 0 && this.rng.chance(f.dropP)) {
      this.stats.framesDropped += 1;
      return;
    }
    this.schedule(conn, dir, packet, f);
    if (packet.kind === 'frame' && f.dupP > 0 && this.rng.chance(f.dupP)) {
      this.stats.framesDuplicated += 1;
      this.schedule(conn, dir, packet, f);
    }
  }

  private schedule(conn: SimConnection, dir: Direction, packet: Packet, f: DirectionFault): void {
    if (conn.inFlight[dir] >= limits.simLinkFramesInFlightMax) {
      this.reset(conn, 'in-flight frames overflow');
      return;
    }
    const latency =
      this.baseLatencyMs +
      this.rng.unit() * this.baseJitterMs +
      f.delayMs +
      this.rng.unit() * f.jitterMs;
    let atMs = this.scheduler.nowMs + latency;
    if (packet.kind === 'frame' && f.reorderP > 0 && this.rng.chance(f.reorderP)) {
      // Escapes FIFO order: may overtake frames sent before it, or be overtaken.
      this.stats.framesReordered += 1;
      atMs = this.scheduler.nowMs + this.rng.unit() * 2 * latency;
    } else {
      atMs = Math.max(atMs, conn.lastDeliveryMs[dir]);
      conn.lastDeliveryMs[dir] = atMs;
    }
    conn.inFlight[dir] += 1;
    this.scheduler.schedule(atMs - this.scheduler.nowMs, () => {
      conn.inFlight[dir] -= 1;
      this.deliver(conn, dir, packet);
    });
  }

  private deliver(conn: SimConnection, dir: Direction, packet: Packet): void {
    const receiver = conn.receiver(dir);
    if (packet.kind === 'fin' || packet.kind === 'rst') {
      receiver.finish(packet.kind === 'fin' ? `peer closed: ${packet.reason}` : 'connection reset');
      return;
    }
    if (!receiver.open) {
      // The kernel answers a segment for a dead socket with a reset.
      if (conn.sender(dir).open) this.transmit(conn, opposite(dir), { kind: 'rst' });
      return;
    }
    this.stats.framesDelivered += 1;
    receiver.receive(packet.frame);
  }

  private release(partyId: string, dir: Direction): void {
    const key = `${partyId}|${dir}`;
    const queue = this.held.get(key) ?? [];
    this.held.delete(key);
    for (const { conn, packet } of queue) this.transmit(conn, dir, packet);
  }
}
