/**
 * Client tries in flight (signing requests, approvals), by client process: each talks to one
 * coordinator replica, and when that replica's process dies its tries are abandoned, as a
 * client sees its connection reset. A dead process's promises never settle, so the abandon
 * callback is the only end such a try gets.
 */
import type { SimCluster } from './cluster.ts';

/** The tries in flight of one kind of client. */
export class TriesInFlight {
  private readonly tries = new Map<string, { replica: number; abandon: () => void }>();

  constructor(cluster: SimCluster) {
    cluster.onCoordinatorCrash((replica) => {
      for (const t of [...this.tries.values()]) if (t.replica === replica) t.abandon();
    });
  }

  /**
   * Records that `process` is talking to `replica`; `onAbandon` runs if the replica dies first.
   * Returns a function telling whether the try was abandoned (its late answer is then ignored).
   */
  start(process: string, replica: number, onAbandon: () => void): () => boolean {
    let abandoned = false;
    this.tries.set(process, {
      replica,
      abandon: () => {
        abandoned = true;
        onAbandon();
      },
    });
    return () => abandoned;
  }

  /** The try of `process` ended (answered, or abandoned). */
  end(process: string): void {
    this.tries.delete(process);
  }
}
