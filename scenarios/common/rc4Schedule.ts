/**
 * RC4's key schedule followed by its 256 dropped bytes, the part of making a stream that loops (512
 * swaps a stream), as a WebAssembly function. Every agent makes a stream per slot; in JavaScript those
 * loops ran in the interpreter until V8 had compiled them, and compiling them cost more than running
 * them (a packed worker of 250 users: about 25 ms of CPU over two slots, where the compiled loops take
 * under 1 ms). WebAssembly is compiled once, when this module loads, to machine code that runs at once.
 *
 * The same function in JavaScript (`scheduleJs`) is what it is checked against (test/unit/arc4.test.ts)
 * and what runs where WebAssembly is unavailable (node --jitless).
 *
 * Memory: the state s at [0, 256), the key at [256, 512), one byte each.
 */
const WIDTH = 256;
const MASK = 255;
const KEY_AT = WIDTH;

/** the state and the key, in one buffer the schedule works in */
export interface ScheduleMemory {
  /** s, read once the schedule has run */
  readonly state: Uint8Array;
  /** the mixed key, written before the schedule runs */
  readonly key: Uint8Array;
}

/** runs the schedule over the key's first `keylen` bytes (≥ 1), then the drop from i = j = 0; returns j (i is 0 again) */
export type Schedule = (keylen: number) => number;

export function scheduleJs(mem: ScheduleMemory): Schedule {
  const { state: s, key } = mem;
  return (keylen) => {
    for (let i = 0; i < WIDTH; i++) s[i] = i;
    let j = 0;
    for (let i = 0, k = 0; i < WIDTH; i++) {
      const t = s[i];
      j = MASK & (j + key[k] + t);
      s[i] = s[j];
      s[j] = t;
      if (++k === keylen) k = 0;
    }
    j = 0;
    for (let i = 0, count = WIDTH; count > 0; count--) {
      i = MASK & (i + 1);
      const t = s[i];
      j = MASK & (j + t);
      s[i] = s[j];
      s[j] = t;
    }
    return j;
  };
}

// The WebAssembly module, assembled here so it can be read: the opcodes by name, the body as scheduleJs.
const I32 = 0x7f;
const op = {
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  select: 0x1b,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  load8: 0x2d,
  store8: 0x3a,
  const: 0x41,
  eqz: 0x45,
  eq: 0x46,
  ltU: 0x49,
  add: 0x6a,
  sub: 0x6b,
  and: 0x71,
} as const;
const VOID = 0x40;
/** locals: the parameter, then i, j, k, t, count */
const [KEYLEN, I, J, K, T, COUNT] = [0, 1, 2, 3, 4, 5];

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
const num = (n: number) => [op.const, ...leb(n)];
/** byte at address (on the stack) + offset */
const load8 = (offset = 0) => [op.load8, 0, ...leb(offset)];
const store8 = () => [op.store8, 0, 0];
/** l = MASK & (l + <what the stack has>) */
const addMasked = (l: number) => [...get(l), op.add, ...num(MASK), op.and, ...set(l)];
/** swap s[i] and s[j], t = s[i] already */
const swap = [...get(I), ...get(J), ...load8(), ...store8(), ...get(J), ...get(T), ...store8()];

const body = [
  // for (i = 0; i < 256; i++) s[i] = i
  ...loopWhile([...get(I), ...get(I), ...store8(), ...get(I), ...num(1), op.add, op.tee, I, ...num(WIDTH), op.ltU]),
  // for (i = 0, k = 0; i < 256; i++) { t = s[i]; j = MASK & (j + key[k] + t); swap; k = k + 1 === keylen ? 0 : k + 1 }
  ...num(0),
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
    ...swap,
    ...num(0),
    ...get(K),
    ...num(1),
    op.add,
    op.tee,
    K,
    ...get(K),
    ...get(KEYLEN),
    op.eq,
    op.select,
    ...set(K),
    ...get(I),
    ...num(1),
    op.add,
    op.tee,
    I,
    ...num(WIDTH),
    op.ltU,
  ]),
  // for (i = 0, j = 0, count = 256; count > 0; count--) { i = MASK & (i + 1); t = s[i]; j = MASK & (j + t); swap }
  ...num(0),
  ...set(I),
  ...num(0),
  ...set(J),
  ...num(WIDTH),
  ...set(COUNT),
  ...loopWhile([
    ...num(1),
    ...addMasked(I),
    ...get(I),
    ...load8(),
    op.tee,
    T,
    ...addMasked(J),
    ...swap,
    ...get(COUNT),
    ...num(1),
    op.sub,
    op.tee,
    COUNT,
    op.eqz,
    op.eqz,
  ]),
  ...get(J),
  op.end,
];

/** a loop that runs `step` (which leaves its condition on the stack) again while the condition holds */
function loopWhile(step: number[]): number[] {
  return [op.loop, VOID, ...step, op.brIf, 0, op.end];
}

const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
const locals = [1, 5, I32];
const code = [...locals, ...body];
const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...section(1, [1, 0x60, 1, I32, 1, I32]), // type: (i32) -> i32
  ...section(3, [1, 0]), // function 0 of type 0
  ...section(5, [1, 0, 1]), // memory: one page
  ...section(7, [2, ...name('schedule'), 0, 0, ...name('memory'), 2, 0]),
  ...section(10, [1, ...leb(code.length), ...code]),
]);

export function scheduleWasm(): { schedule: Schedule; mem: ScheduleMemory } {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(MODULE));
  const buffer = (exports.memory as WebAssembly.Memory).buffer;
  return {
    schedule: exports.schedule as Schedule,
    mem: { state: new Uint8Array(buffer, 0, WIDTH), key: new Uint8Array(buffer, KEY_AT, WIDTH) },
  };
}

/** the schedule this process uses: WebAssembly's, or JavaScript's where there is none */
export function makeSchedule(): { schedule: Schedule; mem: ScheduleMemory } {
  if (typeof WebAssembly === 'object') return scheduleWasm();
  const buffer = new ArrayBuffer(2 * WIDTH);
  const mem = { state: new Uint8Array(buffer, 0, WIDTH), key: new Uint8Array(buffer, KEY_AT, WIDTH) };
  return { schedule: scheduleJs(mem), mem };
}
