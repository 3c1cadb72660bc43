import type { Logger } from '../log/logger';

/** What a replica tells its peers after a checkout: POST /consumed takes this body. */
export interface ConsumedNote {
  image: string;
  count: number;
  /** The replica id of the sender. */
  from: string;
}

export interface PeerNotifierOptions {
  replicaId: string;
  /** Base URLs of the other replicas. */
  peers: string[];
  log: Logger;
  /** Each note gives up after this long, so a dead peer costs nothing. */
  timeoutMs?: number;
  /** At most one warning per peer in this window, so a dead peer does not flood the log. */
  warnEveryMs?: number;
  fetch?: typeof fetch;
}

/**
 * Tells the other replicas behind a load balancer that a container was consumed here, so each
 * tops its own pool up. Fire and forget: a note never delays a run and its failure never
 * reaches one.
 */
export class PeerNotifier {
  private readonly lastWarnedAt = new Map<string, number>();

  constructor(private readonly options: PeerNotifierOptions) {}

  consumed(image: string): void {
    const note: ConsumedNote = { image, count: 1, from: this.options.replicaId };
    for (const peer of this.options.peers) void this.send(peer, note);
  }

  private async send(peer: string, note: ConsumedNote): Promise<void> {
    const send = this.options.fetch ?? fetch;
    try {
      const response = await send(`${peer}/consumed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(note),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 2000),
      });
      if (response.status !== 202) throw new Error(`answered ${response.status}`);
    } catch (error) {
      this.warnAboutPeer(peer, error as Error);
    }
  }

  private warnAboutPeer(peer: string, error: Error): void {
    const now = Date.now();
    const last = this.lastWarnedAt.get(peer) ?? -Infinity;
    if (now - last < (this.options.warnEveryMs ?? 60_000)) return;
    this.lastWarnedAt.set(peer, now);
    this.options.log.warn('a peer did not take a consumed note', { peer, error: error.message });
  }
}
