/**
 * seedrandom's default generator (ARC4 keyed by a string, RC4-drop[256], doubles of 52 random bits),
 * written again so that a stream costs little: seedrandom's arrays, strings and closures were several
 * KB a stream (a 100,000-user run draws a stream per user in every worker, and the orchestrator's
 * baselines draw 100,000 more). It gives the same numbers as `seedrandom(key)` for every key —
 * test/unit/arc4.test.ts compares the two — so every parameter drawn before stays the same.
 * seedrandom also stirs each generator into a global entropy pool; that pool only seeds generators
 * made without a key, which mecsim never makes.
 *
 * The generator runs in one machine per process (./rc4Machine.ts: WebAssembly), which holds one
 * state: the stream made or drawn from last. Making a stream saves the one before it (258 bytes; it
 * may draw again), and a stream that draws after another did swaps its saved state back in first.
 * Streams are mostly made, drawn from and dropped in turn, so a draw rarely swaps.
 */
import { makeMachine } from './rc4Machine.ts';

const WIDTH = 256;
const MASK = 255;
const machine = makeMachine();
/** the stream whose state the machine holds */
let active: Arc4 | undefined;

export class Arc4 {
  /** this stream's state while another's is in the machine */
  private saved: Uint8Array | undefined;

  constructor(seed: string) {
    active?.save();
    const keylen = mixkey(seed);
    if (keylen === 0) machine.key[0] = 0;
    machine.schedule(keylen === 0 ? 1 : keylen);
    active = this;
  }

  /** uniform in [0, 1), 52 random bits (seedrandom's `double()`) */
  double(): number {
    if (active !== this) this.restore();
    return machine.double();
  }

  private save(): void {
    this.saved ??= new Uint8Array(machine.state.length);
    this.saved.set(machine.state);
  }

  private restore(): void {
    active?.save();
    machine.state.set(this.saved!);
    active = this;
  }
}

/** seedrandom's mixkey of a string into the machine's key (fresh); the key's length */
function mixkey(seed: string): number {
  const len = Math.min(seed.length, WIDTH);
  const key = machine.key;
  let smear = 0;
  for (let j = 0; j < seed.length; j++) {
    const k = j & MASK;
    // seedrandom's key starts empty: a slot not yet written reads as undefined, which mixes in as 0
    smear ^= j < WIDTH ? 0 : key[k] * 19;
    key[k] = MASK & (smear + seed.charCodeAt(j));
  }
  return len;
}
