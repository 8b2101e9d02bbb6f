/**
 * seedrandom's default generator (ARC4 keyed by a string, RC4-drop[256], doubles of 52 random bits),
 * written again so that a stream costs one 256-byte state instead of seedrandom's arrays, strings
 * and closures (several KB a stream: a 100,000-user run draws a stream per user in every worker, and
 * the orchestrator's baselines draw 100,000 more). It gives the same numbers as `seedrandom(key)` for
 * every key — test/unit/arc4.test.ts compares the two — so every parameter drawn before stays the
 * same. seedrandom also stirs each generator into a global entropy pool; that pool only seeds
 * generators made without a key, which mecsim never makes.
 */
import { makeSchedule } from './rc4Schedule.ts';

const WIDTH = 256;
const MASK = 255;
const START_DENOM = 2 ** 48;
const SIGNIFICANCE = 2 ** 52;
const OVERFLOW = 2 ** 53;
/** the key schedule, and the key and state it works in (one per process: a stream copies the state out) */
const { schedule, mem } = makeSchedule();

export class Arc4 {
  private readonly s = new Uint8Array(WIDTH);
  private i = 0;
  private j = 0;

  constructor(seed: string) {
    const keylen = mixkey(seed);
    if (keylen === 0) mem.key[0] = 0;
    this.j = schedule(keylen === 0 ? 1 : keylen);
    this.s.set(mem.state);
  }

  /** the next `count` bytes of the key stream as one big-endian number (count ≤ 6) */
  bytes(count: number): number {
    const s = this.s;
    let i = this.i;
    let j = this.j;
    let r = 0;
    while (count--) {
      i = MASK & (i + 1);
      const t = s[i];
      j = MASK & (j + t);
      const a = s[j];
      s[i] = a;
      s[j] = t;
      r = r * WIDTH + s[MASK & (a + t)];
    }
    this.i = i;
    this.j = j;
    return r;
  }

  /** uniform in [0, 1), 52 random bits (seedrandom's `double()`) */
  double(): number {
    let n = this.bytes(6);
    let d = START_DENOM;
    let x = 0;
    while (n < SIGNIFICANCE) {
      n = (n + x) * WIDTH;
      d *= WIDTH;
      x = this.bytes(1);
    }
    while (n >= OVERFLOW) {
      n /= 2;
      d /= 2;
      x >>>= 1;
    }
    return (n + x) / d;
  }
}

/** seedrandom's mixkey of a string into the schedule's key (fresh); the key's length */
function mixkey(seed: string): number {
  const len = Math.min(seed.length, WIDTH);
  const key = mem.key;
  let smear = 0;
  for (let j = 0; j < seed.length; j++) {
    const k = j & MASK;
    // seedrandom's key starts empty: a slot not yet written reads as undefined, which mixes in as 0
    smear ^= j < WIDTH ? 0 : key[k] * 19;
    key[k] = MASK & (smear + seed.charCodeAt(j));
  }
  return len;
}
