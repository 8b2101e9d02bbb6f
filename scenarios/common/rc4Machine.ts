/**
 * One RC4 generator at a time (seedrandom's ARC4: the key schedule, 256 bytes dropped, doubles of 52
 * random bits) as two WebAssembly functions over one memory. Every agent makes a stream per slot and
 * draws a few numbers from it; in JavaScript the key schedule's 512 swaps and each draw's byte steps
 * ran in the interpreter until V8 had compiled them, and compiling them cost more than running them
 * (a packed worker of 250 users: about 25 ms of CPU over two slots, where the compiled loops take under
 * 1 ms). WebAssembly is compiled once, when this module loads, to machine code that runs at once.
 *
 * The same machine in JavaScript (`machineJs`) is what it is checked against (test/unit/arc4.test.ts)
 * and what runs where WebAssembly is unavailable (node --jitless).
 *
 * Memory, one byte each: the state s at [0, 256), i at 256 and j at 257 (together what a stream saves
 * when another draws), the key at [258, 514).
 */
const WIDTH = 256;
const MASK = 255;
const I_AT = WIDTH;
const J_AT = I_AT + 1;
/** s, i and j: what a stream saves */
const STATE_BYTES = J_AT + 1;
const KEY_AT = STATE_BYTES;
const MEMORY_BYTES = KEY_AT + WIDTH;
const START_DENOM = 2 ** 48;
const SIGNIFICANCE = 2 ** 52;
const OVERFLOW = 2 ** 53;

/** A generator's state in memory, and the two operations on it. */
export interface Rc4Machine {
  /** s, i and j: memory[0, 258) (a stream saves and restores them to share the machine) */
  readonly state: Uint8Array;
  /** the mixed key, written before `schedule` */
  readonly key: Uint8Array;
  /** the key schedule over the key's first `keylen` bytes (≥ 1), then 256 bytes dropped from i = j = 0 */
  schedule(keylen: number): void;
  /** uniform in [0, 1), 52 random bits (seedrandom's `double()`), from the state in memory */
  double(): number;
}

function views(buffer: ArrayBufferLike): Pick<Rc4Machine, 'state' | 'key'> {
  return { state: new Uint8Array(buffer, 0, STATE_BYTES), key: new Uint8Array(buffer, KEY_AT, WIDTH) };
}

export function machineJs(): Rc4Machine {
  const { state: m, key } = views(new ArrayBuffer(MEMORY_BYTES));
  /** the next `count` bytes of the key stream as one big-endian number (count ≤ 6) */
  const bytes = (count: number): number => {
    let i = m[I_AT];
    let j = m[J_AT];
    let r = 0;
    while (count--) {
      i = MASK & (i + 1);
      const t = m[i];
      j = MASK & (j + t);
      const a = m[j];
      m[i] = a;
      m[j] = t;
      r = r * WIDTH + m[MASK & (a + t)];
    }
    m[I_AT] = i;
    m[J_AT] = j;
    return r;
  };
  return {
    state: m,
    key,
    schedule(keylen) {
      for (let i = 0; i < WIDTH; i++) m[i] = i;
      let j = 0;
      for (let i = 0, k = 0; i < WIDTH; i++) {
        const t = m[i];
        j = MASK & (j + key[k] + t);
        m[i] = m[j];
        m[j] = t;
        if (++k === keylen) k = 0;
      }
      j = 0;
      for (let i = 0, count = WIDTH; count > 0; count--) {
        i = MASK & (i + 1);
        const t = m[i];
        j = MASK & (j + t);
        m[i] = m[j];
        m[j] = t;
      }
      m[I_AT] = 0;
      m[J_AT] = j;
    },
    double() {
      let n = bytes(6);
      let d = START_DENOM;
      let x = 0;
      while (n < SIGNIFICANCE) {
        n = (n + x) * WIDTH;
        d *= WIDTH;
        x = bytes(1);
      }
      while (n >= OVERFLOW) {
        n /= 2;
        d /= 2;
        x >>>= 1;
      }
      return (n + x) / d;
    },
  };
}

// The WebAssembly module, assembled here so it can be read: the opcodes by name, the bodies as machineJs.
const I32 = 0x7f;
const F64 = 0x7c;
const VOID = 0x40;
const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  select: 0x1b,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  load8: 0x2d,
  store8: 0x3a,
  i32: 0x41,
  f64: 0x44,
  eqz: 0x45,
  eq: 0x46,
  ltU: 0x49,
  fLt: 0x63,
  fGe: 0x66,
  fFloor: 0x9c,
  add: 0x6a,
  sub: 0x6b,
  and: 0x71,
  fAdd: 0xa0,
  fMul: 0xa2,
  fDiv: 0xa3,
  fromU32: 0xb8,
} as const;

/** signed LEB128: the constants' encoding, and a valid one (if not always the shortest) of the sizes and offsets */
function leb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}
const get = (l: number) => [op.get, l];
const set = (l: number) => [op.set, l];
const int = (n: number) => [op.i32, ...leb(n)];
const real = (x: number) => [op.f64, ...new Uint8Array(new Float64Array([x]).buffer)];
/** the byte at (the address on the stack) + offset */
const load8 = (offset = 0) => [op.load8, 0, ...leb(offset)];
/** (address, value on the stack) → memory[address + offset] */
const store8 = (offset = 0) => [op.store8, 0, ...leb(offset)];
/** a loop that runs `step` (which leaves its condition on the stack) again while the condition holds */
const loopWhile = (step: number[]) => [op.loop, VOID, ...step, op.brIf, 0, op.end];
/** while (cond) body, `cond` leaving its condition on the stack */
const whileDo = (cond: number[], body: number[]) => [op.block, VOID, op.loop, VOID, ...cond, op.eqz, op.brIf, 1, ...body, op.br, 0, op.end, op.end];

// schedule(keylen): locals keylen, then i, j, k, t, count
const [KEYLEN, I, J, K, T, COUNT] = [0, 1, 2, 3, 4, 5];
/** l = MASK & (l + <what the stack has>) */
const addMasked = (l: number) => [...get(l), op.add, ...int(MASK), op.and, ...set(l)];
/** s[i] = s[j]; s[j] = t */
const swap = (i: number, j: number, t: number) => [...get(i), ...get(j), ...load8(), ...store8(), ...get(j), ...get(t), ...store8()];
/** l = l + 1, leaving l < limit */
const stepUpTo = (l: number, limit: number) => [...get(l), ...int(1), op.add, op.tee, l, ...int(limit), op.ltU];
/** l = l - 1, leaving l !== 0 */
const stepDown = (l: number) => [...get(l), ...int(1), op.sub, op.tee, l, op.eqz, op.eqz];
/** the generator's i and j (locals `i`, `j`) kept in memory, where double reads them */
const keepIJ = (i: number, j: number) => [...int(0), ...get(i), ...store8(I_AT), ...int(0), ...get(j), ...store8(J_AT)];

const scheduleBody = [
  // for (i = 0; i < 256; i++) s[i] = i
  ...loopWhile([...get(I), ...get(I), ...store8(), ...stepUpTo(I, WIDTH)]),
  // for (i = 0, k = 0; i < 256; i++) { t = s[i]; j = MASK & (j + key[k] + t); swap; k = k + 1 === keylen ? 0 : k + 1 }
  ...int(0),
  ...set(I),
  ...loopWhile([
    ...get(I),
    ...load8(),
    ...set(T),
    ...get(K),
    ...load8(KEY_AT),
    ...get(T),
    op.add,
    ...addMasked(J),
    ...swap(I, J, T),
    ...int(0),
    ...get(K),
    ...int(1),
    op.add,
    op.tee,
    K,
    ...get(K),
    ...get(KEYLEN),
    op.eq,
    op.select,
    ...set(K),
    ...stepUpTo(I, WIDTH),
  ]),
  // for (i = 0, j = 0, count = 256; count > 0; count--) { i = MASK & (i + 1); t = s[i]; j = MASK & (j + t); swap }
  ...int(0),
  ...set(I),
  ...int(0),
  ...set(J),
  ...int(WIDTH),
  ...set(COUNT),
  ...loopWhile([...int(1), ...addMasked(I), ...get(I), ...load8(), op.tee, T, ...addMasked(J), ...swap(I, J, T), ...stepDown(COUNT)]),
  ...keepIJ(I, J),
  op.end,
];

// double(): locals i, j, t, a, count (i32), then n, d, x (f64)
const [DI, DJ, DT, DA, DCOUNT, N, D, X] = [0, 1, 2, 3, 4, 5, 6, 7];
/** the key stream's next byte, left on the stack: i = MASK & (i + 1); t = s[i]; j = MASK & (j + t); a = s[j]; s[i] = a; s[j] = t; s[MASK & (a + t)] */
const nextByte = [
  ...int(1),
  ...addMasked(DI),
  ...get(DI),
  ...load8(),
  op.tee,
  DT,
  ...addMasked(DJ),
  ...get(DJ),
  ...load8(),
  ...set(DA),
  ...get(DI),
  ...get(DA),
  ...store8(),
  ...get(DJ),
  ...get(DT),
  ...store8(),
  ...get(DA),
  ...get(DT),
  op.add,
  ...int(MASK),
  op.and,
  ...load8(),
  op.fromU32,
];
const doubleBody = [
  ...int(0),
  ...load8(I_AT),
  ...set(DI),
  ...int(0),
  ...load8(J_AT),
  ...set(DJ),
  // n = bytes(6): n = n * 256 + byte, six times
  ...int(6),
  ...set(DCOUNT),
  ...loopWhile([...get(N), ...real(WIDTH), op.fMul, ...nextByte, op.fAdd, ...set(N), ...stepDown(DCOUNT)]),
  ...real(START_DENOM),
  ...set(D),
  // while (n < 2^52) { n = (n + x) * 256; d *= 256; x = bytes(1) }
  ...whileDo([...get(N), ...real(SIGNIFICANCE), op.fLt], [...get(N), ...get(X), op.fAdd, ...real(WIDTH), op.fMul, ...set(N), ...get(D), ...real(WIDTH), op.fMul, ...set(D), ...nextByte, ...set(X)]),
  // while (n >= 2^53) { n /= 2; d /= 2; x >>>= 1 }
  ...whileDo([...get(N), ...real(OVERFLOW), op.fGe], [...get(N), ...real(2), op.fDiv, ...set(N), ...get(D), ...real(2), op.fDiv, ...set(D), ...get(X), ...real(2), op.fDiv, op.fFloor, ...set(X)]),
  ...keepIJ(DI, DJ),
  // (n + x) / d
  ...get(N),
  ...get(X),
  op.fAdd,
  ...get(D),
  op.fDiv,
  op.end,
];

const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
const code = (locals: number[], body: number[]) => {
  const f = [...locals, ...body];
  return [...leb(f.length), ...f];
};
const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...section(1, [2, 0x60, 1, I32, 0, 0x60, 0, 1, F64]), // types: (i32) -> (), () -> f64
  ...section(3, [2, 0, 1]), // schedule, double
  ...section(5, [1, 0, 1]), // memory: one page
  ...section(7, [3, ...name('schedule'), 0, 0, ...name('double'), 0, 1, ...name('memory'), 2, 0]),
  ...section(10, [2, ...code([1, 5, I32], scheduleBody), ...code([2, 5, I32, 3, F64], doubleBody)]),
]);

export function machineWasm(): Rc4Machine {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(MODULE));
  return { ...views((exports.memory as WebAssembly.Memory).buffer), schedule: exports.schedule as (keylen: number) => void, double: exports.double as () => number };
}

/** the machine this process uses: WebAssembly's, or JavaScript's where there is none */
export function makeMachine(): Rc4Machine {
  return typeof WebAssembly === 'object' ? machineWasm() : machineJs();
}
