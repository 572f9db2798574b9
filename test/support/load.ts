import { ChatClient, httpGet } from "./e2e";

/**
 * Live traffic during an `up`: N chat sockets (each reconnecting on close, as the reference page does)
 * and a bounded HTTP loop on fresh connections. Everything is counted; nothing runs past stop() or the
 * bounds (request count, duration).
 */
export interface TrafficReport {
  sockets: number;
  /** Sockets that closed, by close code. */
  closes: Record<string, number>;
  /** Closes of sockets whose node was still in the environment afterwards (drops the user would see). */
  reconnected: number;
  httpOk: number;
  httpFailed: number;
  httpErrors: string[];
  /** Longest gap (ms) between two successful HTTP answers: the outage as a user would see it. */
  longestHttpGapMs: number;
}

interface TrackedSocket {
  client: ChatClient;
  node: string;
  /** Close code if the socket closed while traffic ran (null: still open when stop() came). */
  closedWith: number | null;
}

export class LiveTraffic {
  readonly tracked: TrackedSocket[] = [];
  private running = true;
  private report: TrafficReport = { sockets: 0, closes: {}, reconnected: 0, httpOk: 0, httpFailed: 0, httpErrors: [], longestHttpGapMs: 0 };
  private httpLoop: Promise<void> = Promise.resolve();
  private reconnects: Promise<void>[] = [];

  /** `ca`: for a wss:// URL, the CA the sockets trust. */
  constructor(
    private readonly httpUrl: string,
    private readonly wsUrl: string,
    private readonly ca?: string,
  ) {}

  /** Opens `count` sockets (all welcomed) and starts the HTTP loop. */
  async start(count: number, opts: { maxRequests?: number; maxMs?: number } = {}): Promise<void> {
    for (let i = 0; i < count; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, count - i) }, () => this.open()));
    }
    this.report.sockets = count;
    this.httpLoop = this.runHttp(opts.maxRequests ?? 4000, opts.maxMs ?? 180_000);
  }

  private async open(): Promise<TrackedSocket> {
    const client = await ChatClient.open(this.wsUrl, {}, 10_000, this.ca);
    await client.waitFor((m) => m.type === "welcome");
    const tracked: TrackedSocket = { client, node: client.welcomeNode ?? "", closedWith: null };
    client.socket.on("close", (code) => {
      if (!this.running) return; // closed by stop(), not by the system under test
      tracked.closedWith = code;
      this.report.closes[code] = (this.report.closes[code] ?? 0) + 1;
      this.reconnects.push(this.reconnect());
    });
    this.tracked.push(tracked);
    return tracked;
  }

  /** Like the page: back off, then connect again, a bounded number of times. */
  private async reconnect(): Promise<void> {
    for (let attempt = 0, delay = 200; attempt < 20 && this.running; attempt++, delay = Math.min(delay * 2, 2000)) {
      await new Promise((r) => setTimeout(r, delay));
      try {
        await this.open();
        this.report.reconnected++;
        return;
      } catch {
        // try again
      }
    }
  }

  private async runHttp(maxRequests: number, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    let lastOk = Date.now();
    for (let i = 0; i < maxRequests && this.running && Date.now() < deadline; i++) {
      try {
        const answer = await httpGet(this.httpUrl, {}, 5000);
        if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
        this.report.httpOk++;
        this.report.longestHttpGapMs = Math.max(this.report.longestHttpGapMs, Date.now() - lastOk);
        lastOk = Date.now();
      } catch (err) {
        this.report.httpFailed++;
        if (this.report.httpErrors.length < 10) this.report.httpErrors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the loop and reconnects, closes every socket, and returns the counts. */
  async stop(): Promise<TrafficReport> {
    this.running = false;
    await this.httpLoop;
    await Promise.all(this.reconnects);
    const report = { ...this.report, closes: { ...this.report.closes } };
    this.tracked.forEach((t) => t.client.close());
    return report;
  }

  /** Sockets (still open or not) by the node that welcomed them. */
  nodesOf(filter: (t: TrackedSocket) => boolean = () => true): string[] {
    return this.tracked.filter(filter).map((t) => t.node);
  }
}
