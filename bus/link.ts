/**
 * The link model: how long a message takes between two agents, and whether it is lost, drawn per
 * message. Pure: parsing and validation of the `link` section, the draws, and the retransmission
 * timer's estimator; no timers and no I/O (bus/linkHold.ts applies the draws to arriving messages).
 *
 * Why a model and not the machine: mecsim runs its agents over loopback, where a round trip costs
 * well under a millisecond; a pricing game between a base station and phones pays a radio and a
 * backhaul round trip per round. The model adds that delay (and loss) where a message crosses the
 * network, so time-to-equilibrium can be measured against round trip and loss. It never changes
 * what the mechanism computes: a lost message is recovered by retransmission, and the receiver of a
 * copy it already answered answers it from its cache.
 *
 * Classes: every directed pair of roles (`ue>mec`, `mec>ue`, `mec>cloud` …) has a one-way delay
 * distribution, a jitter and a loss probability. The section's top level (`rtt`, `jitter`, `loss`)
 * sets every class; `classes` overrides single ones, with `*` for any role (`*>cloud`). The most
 * specific entry wins: `a>b`, then `a>*`, then `*>b`, then `*>*`, then the top level.
 *
 * Draws: a message's delay and loss depend only on (run seed, sender, receiver, slot, round, kind,
 * attempt) through a counter-based hash, never on time or arrival order, so the same config gives
 * the same delays in every placement and on every machine. A retransmitted copy is a new attempt
 * and draws its own.
 */

/** A bad `link` section or flag: `key` names it (`link.classes.ue>mec.delay`, `--rtt`). */
export class LinkConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'LinkConfigError';
  }
}

/** One-way delay distributions (ms). Mean-parameterised where a distribution allows it, so classes compare by mean. */
export type Delay =
  | { dist: 'const'; ms: number }
  | { dist: 'uniform'; minMs: number; maxMs: number }
  /** normal, truncated at 0 (redrawn below 0) */
  | { dist: 'normal'; meanMs: number; sdMs: number }
  /** log-normal with this mean and log-space standard deviation sigma */
  | { dist: 'lognormal'; meanMs: number; sigma: number }
  /** Pareto (type I) with this mean and tail index alpha > 1: heavy-tailed (infinite variance for alpha ≤ 2); every draw is capped at MAX_DELAY_MS */
  | { dist: 'pareto'; meanMs: number; alpha: number };

export interface LinkClass {
  delay: Delay;
  /** each message's delay moves by a uniform draw in [−jitter, +jitter] (never below 0), ms */
  jitterMs: number;
  /** probability a message is lost */
  loss: number;
}

/** The `link` section of a run's config (as a config file or the flags give it). */
export interface LinkSection {
  /** round trip: every class's one-way delay is constant rtt/2 unless a class says otherwise */
  rtt?: number | string;
  jitter?: number | string;
  loss?: number;
  /** the retransmission timer's granularity G in RTO = SRTT + max(G, 4·RTTVAR) (RFC 6298), ms */
  rtoMin?: number | string;
  classes?: Record<string, { delay?: number | string; jitter?: number | string; loss?: number }>;
}

/** The longest one-way delay or jitter accepted, ms: beyond it a round cannot finish within any sane deadline. */
export const MAX_DELAY_MS = 60_000;
/**
 * The default RTO granularity G, ms: a reply later than its smoothed round trip by less than this is
 * not retransmitted. 25 ms is QUIC's default max_ack_delay (RFC 9000 §18.2), its allowance for a
 * peer that answers after its own work: here a follower's best response, on a machine whose load
 * moves that by tens of ms (with G = 10 ms, a loaded 2-core machine re-sent ~10 % of requests whose
 * replies were merely late).
 */
export const DEFAULT_RTO_MIN_MS = 25;
const MAX_FACTOR = 1000;

/** `20ms`, `1.5s`, `500us`, `20` (ms) or a number (ms) → ms. */
export function parseDuration(key: string, v: unknown): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*(us|µs|ms|s)?\s*$/.exec(v);
    if (!m) throw new LinkConfigError(key, `must be a duration such as 20ms, 1.5s, 500us or a number of ms, not ${JSON.stringify(v)}`);
    const unit = m[2] ?? 'ms';
    ms = Number(m[1]) * (unit === 's' ? 1000 : unit === 'ms' ? 1 : 0.001);
  } else throw new LinkConfigError(key, `must be a duration such as 20ms or a number of ms, not ${JSON.stringify(v)}`);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DELAY_MS) throw new LinkConfigError(key, `must be a duration in [0, ${MAX_DELAY_MS / 1000} s], not ${JSON.stringify(v)}`);
  return ms;
}

function parseLoss(key: string, v: unknown): number {
  const p = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p >= 1) throw new LinkConfigError(key, `must be a probability in [0, 1) (1 would lose every message for ever), not ${JSON.stringify(v)}`);
  return p;
}

/**
 * A delay distribution: `10ms` (constant), `const(10ms)`, `uniform(5ms,15ms)`, `normal(10ms,2ms)`
 * (mean, sd; truncated at 0), `lognormal(10ms,0.5)` (mean, log-space sigma), `pareto(10ms,2.5)`
 * (mean, tail index alpha > 1).
 */
export function parseDelay(key: string, v: unknown): Delay {
  if (typeof v === 'number') return { dist: 'const', ms: parseDuration(key, v) };
  if (typeof v !== 'string') throw new LinkConfigError(key, `must be a delay such as 10ms or lognormal(10ms,0.5), not ${JSON.stringify(v)}`);
  const m = /^\s*([a-z]+)\s*\(([^()]*)\)\s*$/.exec(v);
  if (!m) return { dist: 'const', ms: parseDuration(key, v) };
  const args = m[2].split(',').map((s) => s.trim());
  const want = (n: number, form: string) => {
    if (args.length !== n) throw new LinkConfigError(key, `${m[1]} takes ${n} argument${n > 1 ? 's' : ''}: ${form}, not ${JSON.stringify(v)}`);
  };
  const shape = (s: string, what: string, ok: (x: number) => boolean) => {
    const x = Number(s);
    if (s === '' || !Number.isFinite(x) || !ok(x)) throw new LinkConfigError(key, `${m[1]}: ${what}, not ${JSON.stringify(s)}`);
    return x;
  };
  switch (m[1]) {
    case 'const':
      want(1, 'const(10ms)');
      return { dist: 'const', ms: parseDuration(key, args[0]) };
    case 'uniform': {
      want(2, 'uniform(min,max), e.g. uniform(5ms,15ms)');
      const minMs = parseDuration(key, args[0]);
      const maxMs = parseDuration(key, args[1]);
      if (maxMs < minMs) throw new LinkConfigError(key, `uniform(min,max) needs min ≤ max, not ${JSON.stringify(v)}`);
      return { dist: 'uniform', minMs, maxMs };
    }
    case 'normal':
      want(2, 'normal(mean,sd), e.g. normal(10ms,2ms)');
      return { dist: 'normal', meanMs: parseDuration(key, args[0]), sdMs: parseDuration(key, args[1]) };
    case 'lognormal':
      want(2, 'lognormal(mean,sigma), e.g. lognormal(10ms,0.5)');
      return { dist: 'lognormal', meanMs: parseDuration(key, args[0]), sigma: shape(args[1], 'sigma must be a number in [0, 3]', (x) => x >= 0 && x <= 3) };
    case 'pareto':
      want(2, 'pareto(mean,alpha), e.g. pareto(10ms,2.5)');
      return { dist: 'pareto', meanMs: parseDuration(key, args[0]), alpha: shape(args[1], 'alpha must be a number in (1, 100] (alpha ≤ 1 has no mean)', (x) => x > 1 && x <= 100) };
    default:
      throw new LinkConfigError(key, `unknown distribution ${JSON.stringify(m[1])}; use const, uniform, normal, lognormal or pareto`);
  }
}

/** A distribution as the config writes it (the inverse of parseDelay). */
export function formatDelay(d: Delay): string {
  const t = (ms: number) => `${+ms.toPrecision(6)}ms`;
  switch (d.dist) {
    case 'const':
      return t(d.ms);
    case 'uniform':
      return `uniform(${t(d.minMs)},${t(d.maxMs)})`;
    case 'normal':
      return `normal(${t(d.meanMs)},${t(d.sdMs)})`;
    case 'lognormal':
      return `lognormal(${t(d.meanMs)},${d.sigma})`;
    case 'pareto':
      return `pareto(${t(d.meanMs)},${d.alpha})`;
  }
}

/** Splits on commas outside parentheses. */
function topLevelParts(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * One `--link` flag: `A>B=<delay>[,jitter=<dur>][,loss=<p>]`, e.g. `ue>mec=lognormal(10ms,0.5),loss=0.01`
 * or `*>cloud=40ms`. Returns the class name and its entry for `classes`. The delay may be left out
 * (`mec>ue=loss=0.02`): the class keeps the top level's.
 */
export function parseLinkFlag(flag: string): { name: string; entry: { delay?: string; jitter?: string; loss?: number } } {
  const m = /^\s*([^=\s]+>[^=\s]+)\s*=(.*)$/.exec(flag);
  if (!m) throw new LinkConfigError('--link', `must look like A>B=<delay>[,jitter=<dur>][,loss=<p>] (e.g. ue>mec=lognormal(10ms,0.5),loss=0.01), not ${JSON.stringify(flag)}`);
  const entry: { delay?: string; jitter?: string; loss?: number } = {};
  for (const raw of topLevelParts(m[2])) {
    const part = raw.trim();
    if (part === '') continue;
    const kv = /^(jitter|loss)\s*=\s*(.*)$/.exec(part);
    if (kv?.[1] === 'jitter') entry.jitter = kv[2];
    else if (kv?.[1] === 'loss') entry.loss = parseLoss(`--link ${m[1]} loss`, kv[2]);
    else if (entry.delay === undefined) entry.delay = part;
    else throw new LinkConfigError('--link', `${m[1]}: one delay only, then jitter=… and loss=…; got ${JSON.stringify(part)} after ${JSON.stringify(entry.delay)}`);
  }
  if (entry.delay !== undefined) parseDelay(`--link ${m[1]}`, entry.delay);
  if (entry.jitter !== undefined) parseDuration(`--link ${m[1]} jitter`, entry.jitter);
  return { name: m[1], entry };
}

// ---- counter-based draws ----

/** FNV-1a of a string (32 bits) */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: every input bit moves every output bit */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** folds one 32-bit word into a running hash (murmur3's block step) */
function fold(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

/**
 * Uniform draws in (0, 1) for one key: draw i is a hash of (key, i), 53 bits. Two hashes of the key
 * with different seeds make the 64-bit state, so keys that collide in 32 bits still differ.
 */
export class Draws {
  private i = 0;
  constructor(
    private readonly a: number,
    private readonly b: number,
  ) {}

  /** the next uniform in (0, 1) */
  next(): number {
    const i = this.i++;
    const x = fmix(fold(this.a, i * 2 + 1));
    const y = fmix(fold(this.b, i * 2 + 2));
    return ((x >>> 5) * 67108864 + (y >>> 6) + 0.5) / 9007199254740992;
  }

  /** standard normal (Box–Muller, cosine branch) */
  normal(): number {
    const u1 = this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** The words a message's key is hashed from. */
export interface DrawKey {
  slot: number;
  round: number;
  kind: string;
  /** 1 for a message's first copy, 2 for its first retransmission … */
  attempt: number;
}

const kindHashes = new Map<string, number>();
function kindHash(kind: string): number {
  let h = kindHashes.get(kind);
  if (h === undefined) {
    h = hashString(kind);
    if (kindHashes.size < 1024) kindHashes.set(kind, h);
  }
  return h;
}

/** Both 32-bit halves of a seed that may be any safe integer */
function seedWords(seed: number): [number, number] {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return [lo, hi];
}

/** One value of `delay` from uniforms `u` (ms, ≥ 0). */
export function sampleDelay(d: Delay, u: Draws): number {
  switch (d.dist) {
    case 'const':
      return d.ms;
    case 'uniform':
      return d.minMs + (d.maxMs - d.minMs) * u.next();
    case 'normal': {
      if (d.sdMs === 0) return d.meanMs;
      // truncated at 0: redrawn (the mean is ≥ 0, so a draw is kept with probability ≥ 1/2)
      for (let k = 0; k < 64; k++) {
        const x = d.meanMs + d.sdMs * u.normal();
        if (x >= 0) return x;
      }
      return 0;
    }
    case 'lognormal': {
      if (d.meanMs === 0) return 0;
      const mu = Math.log(d.meanMs) - (d.sigma * d.sigma) / 2;
      return Math.exp(mu + d.sigma * u.normal());
    }
    case 'pareto': {
      const xm = (d.meanMs * (d.alpha - 1)) / d.alpha;
      return xm / Math.pow(u.next(), 1 / d.alpha);
    }
  }
}

/** A class's mean one-way delay (ms), jitter and factor aside. */
export function delayMean(d: Delay): number {
  switch (d.dist) {
    case 'const':
      return d.ms;
    case 'uniform':
      return (d.minMs + d.maxMs) / 2;
    case 'normal':
      return d.meanMs; // before truncation; the estimator learns the rest
    default:
      return d.meanMs;
  }
}

/** What one message gets: its delay (ms) and whether it is lost. */
export interface LinkDraw {
  delayMs: number;
  lost: boolean;
}

/**
 * One directed link (sender → receiver) of a model: its class, its factor, and the part of every
 * message's key that names the link. Built once per link; `draw` is the per-message work.
 */
export class DirectedLink {
  private readonly a: number;
  private readonly b: number;
  /** a constant delay with no jitter and no loss: every draw is this one, and no hash is needed */
  private readonly fixed?: LinkDraw;

  constructor(
    readonly cls: LinkClass,
    /** multiplies every delay on this link (per-agent factors, e.g. by distance) */
    readonly factor: number,
    seed: number,
    from: string,
    to: string,
  ) {
    const [lo, hi] = seedWords(seed);
    const f = hashString(from);
    const t = hashString(to);
    this.a = fold(fold(fold(fold(0x6d656373, lo), hi), f), t);
    this.b = fold(fold(fold(fold(0x696d6c6b, t), f), hi), lo);
    if (cls.delay.dist === 'const' && cls.jitterMs === 0 && cls.loss === 0) this.fixed = Object.freeze({ delayMs: cls.delay.ms * factor, lost: false });
  }

  /** whether every message on this link arrives at once and none is lost */
  get instant(): boolean {
    return this.cls.loss === 0 && this.cls.jitterMs === 0 && delayMean(this.cls.delay) === 0;
  }

  /** the uniforms of one message (exposed for tests of the key's independence) */
  draws(k: DrawKey): Draws {
    const kh = kindHash(k.kind);
    const a = fold(fold(fold(fold(this.a, k.slot >>> 0), k.round >>> 0), kh), k.attempt >>> 0);
    const b = fold(fold(fold(fold(this.b, k.attempt >>> 0), kh), k.round >>> 0), k.slot >>> 0);
    return new Draws(fmix(a), fmix(b ^ 0x5bd1e995));
  }

  /** One message's delay and loss. `lossless`: a message nothing would retransmit (a notification) is never lost. */
  draw(k: DrawKey, lossless = false): LinkDraw {
    if (this.fixed) return this.fixed;
    const c = this.cls;
    const u = this.draws(k);
    // the loss draw first, always: the delay of a copy does not depend on whether loss is configured
    const lost = !lossless && c.loss > 0 && u.next() < c.loss;
    let ms = sampleDelay(c.delay, u);
    if (c.jitterMs > 0) ms = Math.max(0, ms + c.jitterMs * (2 * u.next() - 1));
    // a tail draw (log-normal, Pareto) beyond any round's deadline would only turn the model into a fault
    return { delayMs: Math.min(MAX_DELAY_MS, ms) * this.factor, lost };
  }
}

/** Round-trip statistics of a pair of classes (ms): mean and mean absolute deviation, as TCP's SRTT and RTTVAR estimate them. */
export interface RttStats {
  meanMs: number;
  devMs: number;
}

/**
 * A validated link model: every directed role pair's class. `roles` are the run's roles (class
 * names are checked against them); an agent, which re-reads the section from its welcome, passes none.
 */
export class LinkModel {
  private constructor(
    private readonly top: LinkClass,
    private readonly classes: Map<string, LinkClass>,
    readonly rtoMinMs: number,
  ) {}

  static parse(section: unknown, roles?: readonly string[]): LinkModel {
    if (section === null || typeof section !== 'object' || Array.isArray(section)) throw new LinkConfigError('link', `must be an object {rtt, jitter, loss, rtoMin, classes}, not ${JSON.stringify(section)}`);
    const s = section as Record<string, unknown>;
    for (const k of Object.keys(s)) if (!['rtt', 'jitter', 'loss', 'rtoMin', 'classes'].includes(k)) throw new LinkConfigError(`link.${k}`, 'unknown key (known here: rtt, jitter, loss, rtoMin, classes)');
    const rtt = s.rtt === undefined ? 0 : parseDuration('link.rtt', s.rtt);
    const top: LinkClass = {
      delay: { dist: 'const', ms: rtt / 2 },
      jitterMs: s.jitter === undefined ? 0 : parseDuration('link.jitter', s.jitter),
      loss: s.loss === undefined ? 0 : parseLoss('link.loss', s.loss),
    };
    const rtoMinMs = s.rtoMin === undefined ? DEFAULT_RTO_MIN_MS : parseDuration('link.rtoMin', s.rtoMin);
    const classes = new Map<string, LinkClass>();
    if (s.classes !== undefined) {
      if (s.classes === null || typeof s.classes !== 'object' || Array.isArray(s.classes)) throw new LinkConfigError('link.classes', `must be an object {"A>B": {delay, jitter, loss}, …}, not ${JSON.stringify(s.classes)}`);
      for (const [name, raw] of Object.entries(s.classes as Record<string, unknown>)) {
        const key = `link.classes.${name}`;
        const m = /^([^>\s]+)>([^>\s]+)$/.exec(name);
        if (!m) throw new LinkConfigError(key, 'a class is named by a directed role pair A>B (e.g. ue>mec, *>cloud)');
        for (const r of [m[1], m[2]]) if (roles && r !== '*' && !roles.includes(r)) throw new LinkConfigError(key, `${JSON.stringify(r)} is not a role of this run (its roles: ${roles.join(', ')}; * is any role)`);
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new LinkConfigError(key, `must be an object {delay, jitter, loss}, not ${JSON.stringify(raw)}`);
        const e = raw as Record<string, unknown>;
        for (const k of Object.keys(e)) if (!['delay', 'jitter', 'loss'].includes(k)) throw new LinkConfigError(`${key}.${k}`, 'unknown key (known here: delay, jitter, loss)');
        classes.set(name, {
          delay: e.delay === undefined ? top.delay : parseDelay(`${key}.delay`, e.delay),
          jitterMs: e.jitter === undefined ? top.jitterMs : parseDuration(`${key}.jitter`, e.jitter),
          loss: e.loss === undefined ? top.loss : parseLoss(`${key}.loss`, e.loss),
        });
      }
    }
    return new LinkModel(top, classes, rtoMinMs);
  }

  /** The class of messages from a `from`-role agent to a `to`-role agent (the most specific entry). */
  classOf(from: string, to: string): LinkClass {
    const c = this.classes;
    return c.get(`${from}>${to}`) ?? c.get(`${from}>*`) ?? c.get(`*>${to}`) ?? c.get('*>*') ?? this.top;
  }

  /** A directed link between two agents. */
  link(seed: number, from: { id: string; role: string; factor?: number }, to: { id: string; role: string; factor?: number }): DirectedLink {
    return new DirectedLink(this.classOf(from.role, to.role), (from.factor ?? 1) * (to.factor ?? 1), seed, from.id, to.id);
  }

  /** whether some class may lose a message: only then does the leader run a retransmission timer for the model */
  get lossy(): boolean {
    return this.top.loss > 0 || [...this.classes.values()].some((c) => c.loss > 0);
  }

  /** whether no message is delayed or lost */
  get off(): boolean {
    const instant = (c: LinkClass) => c.loss === 0 && c.jitterMs === 0 && delayMean(c.delay) === 0;
    return instant(this.top) && [...this.classes.values()].every(instant);
  }

  /**
   * The round trip a → b → a (ms): mean and mean absolute deviation of the modelled delays, from
   * 4096 draws of a fixed stream (exact for every distribution and jitter without a formula each).
   */
  rtt(roleA: string, roleB: string, factor = 1): RttStats {
    const out = this.classOf(roleA, roleB);
    const back = this.classOf(roleB, roleA);
    const n = 4096;
    const la = new DirectedLink(out, factor, 0, '~rto', `${roleA}>${roleB}`);
    const lb = new DirectedLink(back, factor, 0, '~rto', `${roleB}>${roleA}`);
    const xs = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const k = { slot: i, round: 0, kind: 'rtt', attempt: 1 };
      xs[i] = la.draw(k, true).delayMs + lb.draw(k, true).delayMs;
      sum += xs[i];
    }
    const meanMs = sum / n;
    let dev = 0;
    for (let i = 0; i < n; i++) dev += Math.abs(xs[i] - meanMs);
    return { meanMs, devMs: dev / n };
  }

  /** The model's parameters as summary.json shows them: the top level and each configured class. */
  describe(): Record<string, unknown> {
    const show = (c: LinkClass) => ({ delay: formatDelay(c.delay), meanDelayMs: delayMean(c.delay), jitterMs: c.jitterMs, loss: c.loss });
    return { default: show(this.top), classes: Object.fromEntries([...this.classes].map(([k, c]) => [k, show(c)])), rtoMinMs: this.rtoMinMs };
  }
}

/**
 * The `link` section with the flags laid over it: `--rtt`, `--jitter`, `--loss` replace the top
 * level, each `--link A>B=…` replaces (or adds) that class. Undefined when nothing sets a link.
 */
export function mergeLinkFlags(section: LinkSection | undefined, flags: { rtt?: string; jitter?: string; loss?: string; link?: string[] }): LinkSection | undefined {
  const any = flags.rtt !== undefined || flags.jitter !== undefined || flags.loss !== undefined || (flags.link?.length ?? 0) > 0;
  if (!any) return section;
  const out: LinkSection = { ...(section ?? {}) };
  if (flags.rtt !== undefined) out.rtt = `${parseDuration('--rtt', flags.rtt)}ms`;
  if (flags.jitter !== undefined) out.jitter = `${parseDuration('--jitter', flags.jitter)}ms`;
  if (flags.loss !== undefined) out.loss = parseLoss('--loss', flags.loss);
  if (flags.link?.length) {
    out.classes = { ...(out.classes ?? {}) };
    for (const f of flags.link) {
      const { name, entry } = parseLinkFlag(f);
      out.classes[name] = entry;
    }
  }
  return out;
}

/**
 * TCP's retransmission timer (RFC 6298), its first estimate taken from the model instead of a
 * fixed 1 s: the modelled mean round trip R counts as the first measurement (SRTT = R, RTTVAR =
 * R/2, RFC 6298 2.2) plus the model's mean deviation, so the first RTO is 3R + 4·dev. Every reply's
 * time from the round's start (Karn: only replies to requests sent once) then updates both, so the
 * real processing time, which the model does not know, is learnt. RTO = SRTT + max(G, 4·RTTVAR),
 * doubled on each retransmission of a round.
 */
export class RtoEstimator {
  private srtt: number;
  private rttvar: number;

  constructor(
    initial: RttStats,
    private readonly granularityMs: number,
  ) {
    this.srtt = initial.meanMs;
    this.rttvar = initial.meanMs / 2 + initial.devMs;
  }

  sample(ms: number): void {
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
    this.srtt = 0.875 * this.srtt + 0.125 * ms;
  }

  rtoMs(): number {
    return this.srtt + Math.max(this.granularityMs, 4 * this.rttvar);
  }
}

/**
 * What an agent's welcome carries of the link model: the section (an agent parses it again, so it
 * trusts no one's parsing but its own), the run seed the draws are keyed by, the leader's role, and
 * the per-agent delay factors (when the scenario gives any): a follower's own and the leader's, the
 * leader's own and every roster follower's.
 */
export interface LinkWelcome {
  section: LinkSection;
  seed: number;
  leaderRole: string;
  factor?: number;
  leaderFactor?: number;
  /** the leader only: each roster follower's factor, in roster order */
  rosterFactors?: number[];
}

/** A per-agent factor: positive and finite, at most MAX_FACTOR. */
export function checkFactor(key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_FACTOR) throw new LinkConfigError(key, `a link factor must be a number in (0, ${MAX_FACTOR}], not ${JSON.stringify(v)}`);
  return v;
}
