/**
 * The raw NATS floor's driver, in a process of its own: it plays the leader (one broadcast, or one
 * direct request, a round; every reply counted) and tells the bench, over IPC, the rounds' times and
 * the CPU time they took.
 *
 * Why a process of its own: mecsim's leader is a fresh process in every run, as the floor's workers
 * are. A driver inside the bench process was warm from the framework run's orchestrator and from
 * every floor before it, so its CPU fell from repeat to repeat (58, 38 then 27 ms over the three
 * repeats of a price-search scenario's bench at N = 1000): a floor depended on what the bench had
 * run before it.
 *
 * Its task (FloorTask) is its one argument, as JSON. It tells the bench over IPC: `subscribed` (the
 * bench may start the workers), `started` (every worker said ready), `round` after each round (with
 * task.reportRounds) or `alive` every second while the rounds run, then `done` with the result, or
 * `error`.
 *   node --import tsx orchestrator/floorDriver.ts '<FloorTask as JSON>'
 */
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { installFastParser, subscribeData } from '../bus/fastparse.ts';
import { publishFast } from '../bus/fastpublish.ts';
import { cpuMs } from '../agents/hostCpu.ts';
import { collectBeforeRounds } from '../agents/tiering.ts';

export interface FloorTask {
  url: string;
  prefix: string;
  /** agents, and the worker processes they are spread over */
  agents: number;
  workers: number;
  rounds: number;
  /** rounds run first, timed apart */
  warmup: number;
  /** one-to-one rounds: round r goes to agent r mod agents alone */
  single: boolean;
  client: 'mecsim' | 'stock';
  bcastBytes: number;
  /** replies come back to back in messages, each `replyBytes` long: counted by their bytes */
  batched: boolean;
  replyBytes: number;
  /** replies on the hosts' own subjects (`<prefix>.rep.mec-0.<role>.<host>`) */
  hostSubjects: boolean;
  /** a round's deadline (already stretched for the machine's load), ms */
  roundMs: number;
  reportRounds: boolean;
}

export type DriverMessage =
  | { kind: 'subscribed' }
  | { kind: 'started' }
  | { kind: 'round'; round: number }
  | { kind: 'alive' }
  | { kind: 'done'; times: number[]; warmupTimes: number[]; cpuMs: number; warmCpuMs: number }
  | { kind: 'error'; message: string };

/** The rounds of one floor, over one connection. */
export class FloorDriver {
  private got = 0;
  private readonly expected: number;
  private onRound: () => void = () => undefined;
  private readonly publish: (subject: string, data: Uint8Array) => void;

  constructor(
    private readonly nc: NatsConnection,
    private readonly t: FloorTask,
    private readonly tell: (m: DriverMessage) => void,
  ) {
    this.expected = t.single ? 1 : t.agents;
    this.publish = t.client === 'mecsim' ? (s, d) => publishFast(nc, s, d) : (s, d) => nc.publish(s, d);
  }

  /** Subscribes to the workers' `ready` and to the replies; `workersReady` resolves once every worker is ready. */
  async subscribe(): Promise<{ workersReady: Promise<void> }> {
    const { nc, t } = this;
    let ready = 0;
    let onReady: () => void = () => undefined;
    const workersReady = new Promise<void>((r) => (onReady = r));
    nc.subscribe(`${t.prefix}.ready`, { callback: () => void (++ready === t.workers && onReady()) });
    const onReply = t.batched && !t.single ? (data: Uint8Array) => this.counted(data.byteLength / t.replyBytes) : () => this.counted(1);
    const replies = t.hostSubjects ? `${t.prefix}.rep.mec-0.*.*` : `${t.prefix}.rep`;
    if (t.client === 'mecsim') subscribeData(nc, replies, onReply);
    else nc.subscribe(replies, { callback: (_err, m) => onReply(m.data) });
    await nc.flush();
    return { workersReady };
  }

  private counted(n: number): void {
    if ((this.got += n) === this.expected) this.onRound();
  }

  /** Runs the warm-up and the timed rounds; rejects at the first round past its deadline. */
  async rounds(): Promise<{ times: number[]; warmupTimes: number[]; cpuMs: number; warmCpuMs: number }> {
    const { t } = this;
    const payload = new Uint8Array(t.bcastBytes);
    const times: number[] = [];
    const warmupTimes: number[] = [];
    collectBeforeRounds();
    const cpu0 = process.cpuUsage();
    let warm0 = cpu0;
    let lastTold = performance.now();
    for (let r = 0; r < t.warmup + t.rounds; r++) {
      this.got = 0;
      const done = new Promise<void>((res) => (this.onRound = res));
      const t0 = performance.now();
      this.publish(t.single ? `${t.prefix}.to.${r % t.agents}` : `${t.prefix}.bc`, payload);
      await within(done, t.roundMs, () => new Error(`raw NATS floor: round ${r + 1} got ${this.got} of ${this.expected} replies in ${Math.round(t.roundMs / 1000)} s (a floor worker died or the server dropped messages; see its log)`));
      const t1 = performance.now();
      (r < t.warmup ? warmupTimes : times).push(t1 - t0);
      if (r === t.warmup - 1) {
        // the warm-up is over: the workers mark their CPU here too (this message reaches each before the next broadcast)
        this.publish(`${t.prefix}.warm`, new Uint8Array(0));
        warm0 = process.cpuUsage();
      }
      if (t.reportRounds) this.tell({ kind: 'round', round: r + 1 });
      else if (t1 - lastTold > 1000) {
        lastTold = t1;
        this.tell({ kind: 'alive' });
      }
    }
    return { times, warmupTimes, cpuMs: cpuMs(process.cpuUsage(cpu0)), warmCpuMs: cpuMs(process.cpuUsage(warm0)) };
  }
}

/** `p`, or a rejection with `error()` once `ms` have passed; the timer is cleared either way */
async function within<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(error()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(task: FloorTask): Promise<void> {
  const tell = (m: DriverMessage) => void process.send?.(m);
  if (task.client === 'mecsim' && !installFastParser()) throw new Error("the NATS client is not the version bus/fastparse.ts reads: the floor through mecsim's client path cannot be measured");
  const nc = await connect({ servers: task.url, name: 'mecsim-floor-driver' });
  const driver = new FloorDriver(nc, task, tell);
  const { workersReady } = await driver.subscribe();
  tell({ kind: 'subscribed' });
  await workersReady;
  tell({ kind: 'started' });
  const result = await driver.rounds();
  await nc.close();
  await new Promise<void>((r) => process.send!({ kind: 'done', ...result } satisfies DriverMessage, () => r()));
}

// run as the driver only when started as one (importing its types or class starts nothing)
if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  // the bench gone (even killed), this driver goes too; a channel closed before this line gives no event
  process.on('disconnect', () => process.exit(0));
  if (!process.connected) process.exit(0);
  main(JSON.parse(process.argv[2]) as FloorTask).then(
    () => process.exit(0),
    (e: unknown) => process.send!({ kind: 'error', message: e instanceof Error ? e.message : String(e) } satisfies DriverMessage, () => process.exit(1)),
  );
}
