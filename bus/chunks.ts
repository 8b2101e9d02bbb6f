/**
 * Chunking of control messages larger than the server's max_payload.
 *
 * Why: a NATS server accepts no message larger than its `max_payload` (1 MiB on a stock server; the
 * client refuses to publish one, "max_payload size exceeded"). The leader's slot answer carries the
 * slot's trajectory, one row a round (about 110 B a round, 950 B with 50 users' utilities), so a long
 * slot outgrows it. A message that fits is sent as it is; a larger one is cut into frames that each
 * fit, and the receiver puts them back together.
 *
 * A frame is binary, not an envelope (an envelope's body may not carry binary), and cannot be taken
 * for one: it starts with 0xc1, the one byte msgpack never uses, where an envelope starts with a
 * msgpack array. Layout (big-endian):
 *
 *   0      0xc1
 *   1      FRAME_VERSION
 *   2..5   message id (u32; the sender's counter, wraps)
 *   6..9   piece index (u32, < count)
 *   10..13 piece count (u32, ≥ 1)
 *   14..17 total length of the message (u32)
 *   18..21 CRC-32 of the whole message
 *   22..   the piece: bytes [index × size, …) of the message, size = ceil(total / count), the last
 *          piece the rest (so every piece's length is fixed by the header, and checked)
 *
 * The sender is not in the frame: the receiver keys messages by the sender its subscription names
 * (a per-host subject the server's permissions confine), and by the message id. Nothing here does
 * I/O: the caller publishes the frames and feeds what it receives to a Reassembler, which tolerates
 * duplicates and any order, bounds its memory (bytes held, partial messages, their age) and reports
 * every piece or message it gives up on through `onDrop(reason, sender, detail)` (counters.drop).
 */
import { crc32 } from 'node:zlib';

export const FRAME_MAGIC = 0xc1;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 22;
/** the NATS server's default max_payload, for a connection that has not seen the server's INFO */
export const NATS_DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const U32 = 0x1_0000_0000;

export type ChunkDropReason = 'chunk-malformed' | 'chunk-inconsistent' | 'chunk-checksum' | 'chunk-too-large' | 'chunk-evicted' | 'chunk-expired' | 'chunk-duplicate';

/** The largest payload the server behind `nc` accepts (its INFO's max_payload), or the NATS default before any INFO. */
export function serverMaxPayload(nc: { info?: { max_payload?: number } }): number {
  const m = nc.info?.max_payload;
  return typeof m === 'number' && Number.isInteger(m) && m > FRAME_HEADER_BYTES ? m : NATS_DEFAULT_MAX_PAYLOAD;
}

/** true for a chunk frame, false for anything else (an envelope starts with a msgpack array) */
export function isChunkFrame(data: Uint8Array): boolean {
  return data.byteLength > 0 && data[0] === FRAME_MAGIC;
}

export interface ChunkHeader {
  id: number;
  index: number;
  count: number;
  total: number;
  crc: number;
}

/** A frame's header and piece, or why it is not a well-formed frame. */
export function parseFrame(data: Uint8Array): { ok: true; header: ChunkHeader; piece: Uint8Array } | { ok: false; detail: string } {
  if (data.byteLength < FRAME_HEADER_BYTES) return { ok: false, detail: `${data.byteLength} bytes, shorter than a frame header` };
  if (data[0] !== FRAME_MAGIC) return { ok: false, detail: 'not a chunk frame' };
  if (data[1] !== FRAME_VERSION) return { ok: false, detail: `frame version ${data[1]}, expected ${FRAME_VERSION}` };
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const header = { id: v.getUint32(2), index: v.getUint32(6), count: v.getUint32(10), total: v.getUint32(14), crc: v.getUint32(18) };
  const { index, count, total } = header;
  if (count < 1 || index >= count) return { ok: false, detail: `piece ${index} of ${count}` };
  // every piece holds at least one byte (an empty message is one empty piece)
  if (total === 0 ? count !== 1 : (count - 1) * pieceSize(total, count) >= total) return { ok: false, detail: `${count} pieces for ${total} bytes` };
  const piece = data.subarray(FRAME_HEADER_BYTES);
  const want = pieceLength(total, count, index);
  if (piece.byteLength !== want) return { ok: false, detail: `piece ${index} of ${count} has ${piece.byteLength} bytes, expected ${want} (message of ${total} bytes)` };
  return { ok: true, header, piece };
}

function pieceSize(total: number, count: number): number {
  return Math.ceil(total / count);
}

function pieceLength(total: number, count: number, index: number): number {
  const size = pieceSize(total, count);
  return Math.max(0, Math.min(size, total - index * size));
}

/** Cuts messages into frames; one per sender, so message ids are unique per sender. */
export class Chunker {
  private nextId: number;

  constructor(firstId = 0) {
    this.nextId = firstId >>> 0;
  }

  /** true when `data` must be cut to fit in `maxPayload` */
  static needed(data: Uint8Array, maxPayload: number): boolean {
    return data.byteLength > maxPayload;
  }

  /** What to publish for `data`: the message itself if it fits in `maxPayload`, else its frames. */
  frames(data: Uint8Array, maxPayload: number): Uint8Array[] {
    return Chunker.needed(data, maxPayload) ? this.split(data, maxPayload) : [data];
  }

  /**
   * `data` as frames of at most `maxFrameBytes` each (header included). Pieces are of equal size
   * (the last one the rest), so the frame count is the least that fits.
   */
  split(data: Uint8Array, maxFrameBytes: number): Uint8Array[] {
    const room = Math.floor(maxFrameBytes) - FRAME_HEADER_BYTES;
    if (!(room >= 1)) throw new Error(`a frame of at most ${maxFrameBytes} bytes leaves no room for data after its ${FRAME_HEADER_BYTES}-byte header`);
    const total = data.byteLength;
    if (total >= U32) throw new Error(`a message of ${total} bytes is too large to chunk`);
    const count = Math.max(1, Math.ceil(total / room));
    const size = pieceSize(total, count);
    const id = this.nextId;
    this.nextId = (this.nextId + 1) % U32;
    const crc = crc32(data) >>> 0;
    const frames: Uint8Array[] = [];
    for (let index = 0; index < count; index++) {
      const piece = data.subarray(index * size, Math.min(total, (index + 1) * size));
      const f = new Uint8Array(FRAME_HEADER_BYTES + piece.byteLength);
      const v = new DataView(f.buffer);
      f[0] = FRAME_MAGIC;
      f[1] = FRAME_VERSION;
      v.setUint32(2, id);
      v.setUint32(6, index);
      v.setUint32(10, count);
      v.setUint32(14, total);
      v.setUint32(18, crc);
      f.set(piece, FRAME_HEADER_BYTES);
      frames.push(f);
    }
    return frames;
  }
}

export interface ReassemblerLimits {
  /** bytes held by all partial messages together (each holds its whole length from its first piece) */
  maxBytes: number;
  /** partial messages held at once */
  maxPartials: number;
  /** a partial message whose last piece arrived longer ago than this (ms) is given up */
  expiryMs: number;
  /** the largest message accepted */
  maxMessageBytes: number;
}

export const DEFAULT_REASSEMBLER_LIMITS: ReassemblerLimits = { maxBytes: 64 * 1024 * 1024, maxPartials: 16, expiryMs: 60_000, maxMessageBytes: 32 * 1024 * 1024 };

/** how many completed messages are remembered, so a late duplicate piece of one is known for what it is */
const RECENT_DONE = 256;

/** One message being put back together. */
class Partial {
  readonly buf: Uint8Array;
  readonly have: Uint8Array;
  received = 0;
  lastAt: number;

  constructor(
    readonly key: string,
    readonly sender: string,
    readonly header: ChunkHeader,
    now: number,
  ) {
    this.buf = new Uint8Array(header.total);
    this.have = new Uint8Array(header.count);
    this.lastAt = now;
  }

  get complete(): boolean {
    return this.received === this.header.count;
  }

  sameMessage(h: ChunkHeader): boolean {
    return h.count === this.header.count && h.total === this.header.total && h.crc === this.header.crc;
  }

  /** true if a copy of the piece already held has the same bytes */
  sameAsHeld(index: number, piece: Uint8Array): boolean {
    const at = index * pieceSize(this.header.total, this.header.count);
    for (let i = 0; i < piece.byteLength; i++) if (this.buf[at + i] !== piece[i]) return false;
    return true;
  }

  put(index: number, piece: Uint8Array, now: number): void {
    this.buf.set(piece, index * pieceSize(this.header.total, this.header.count));
    this.have[index] = 1;
    this.received++;
    this.lastAt = now;
  }
}

export type ChunkDrop = (reason: ChunkDropReason, sender: string, detail: string) => void;

/**
 * Puts chunked messages back together, per sender and message id. `add` returns the whole message
 * when its last piece arrives, and undefined otherwise; every piece or message given up is reported
 * through `onDrop`, never thrown.
 */
export class Reassembler {
  private readonly partials = new Map<string, Partial>();
  private readonly done: string[] = [];
  private readonly doneSet = new Set<string>();
  private held = 0;

  constructor(
    private readonly onDrop: ChunkDrop,
    private readonly limits: ReassemblerLimits = DEFAULT_REASSEMBLER_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** bytes held by partial messages */
  get heldBytes(): number {
    return this.held;
  }

  get partialCount(): number {
    return this.partials.size;
  }

  add(sender: string, frame: Uint8Array): Uint8Array | undefined {
    const now = this.now();
    this.expire(now);
    const f = parseFrame(frame);
    if (!f.ok) return void this.onDrop('chunk-malformed', sender, f.detail);
    const h = f.header;
    const key = `${sender}\u0000${h.id}`;
    if (this.doneSet.has(key)) return void this.onDrop('chunk-duplicate', sender, `piece ${h.index} of message ${h.id}, which is already complete`);
    let p = this.partials.get(key);
    if (p && !p.sameMessage(h)) {
      this.forget(p);
      return void this.onDrop('chunk-inconsistent', sender, `message ${h.id}: piece ${h.index} says ${h.count} pieces, ${h.total} bytes, crc ${h.crc}; earlier pieces said ${p.header.count}, ${p.header.total}, ${p.header.crc} (message dropped)`);
    }
    if (p?.have[h.index]) {
      if (p.sameAsHeld(h.index, f.piece)) return void this.onDrop('chunk-duplicate', sender, `piece ${h.index} of message ${h.id} again`);
      this.forget(p);
      return void this.onDrop('chunk-inconsistent', sender, `message ${h.id}: two different copies of piece ${h.index} (message dropped)`);
    }
    if (!p) {
      if (h.total > this.limits.maxMessageBytes || h.total > this.limits.maxBytes) return void this.onDrop('chunk-too-large', sender, `message ${h.id} of ${h.total} bytes, at most ${Math.min(this.limits.maxMessageBytes, this.limits.maxBytes)} accepted`);
      this.makeRoom(h.total);
      p = new Partial(key, sender, h, now);
      this.partials.set(key, p);
      this.held += h.total;
    }
    p.put(h.index, f.piece, now);
    if (!p.complete) return undefined;
    this.forget(p);
    this.remember(key);
    if ((crc32(p.buf) >>> 0) !== h.crc) return void this.onDrop('chunk-checksum', sender, `message ${h.id} of ${h.total} bytes does not match its checksum`);
    return p.buf;
  }

  /** Give up partial messages older than the expiry (also done on every add). */
  expire(now = this.now()): void {
    for (const p of this.partials.values()) {
      if (now - p.lastAt <= this.limits.expiryMs) continue;
      this.forget(p);
      this.onDrop('chunk-expired', p.sender, `message ${p.header.id}: ${p.received} of ${p.header.count} pieces after ${Math.round(now - p.lastAt)} ms without one`);
    }
  }

  /**
   * Forget everything held from `sender` (all senders if undefined): a run's end, or its sender
   * restarted. Its completed message ids are forgotten too: a restarted sender counts its ids afresh,
   * and its first message must not be taken for a late copy of its predecessor's.
   */
  clear(sender?: string): void {
    for (const p of this.partials.values()) if (sender === undefined || p.sender === sender) this.forget(p);
    const prefix = `${sender}\u0000`;
    const mine = (key: string) => sender === undefined || key.startsWith(prefix);
    for (const key of this.done) if (mine(key)) this.doneSet.delete(key);
    const kept = this.done.filter((key) => !mine(key));
    this.done.length = 0;
    this.done.push(...kept);
  }

  /** evict the least recently fed partial messages until `bytes` more fit */
  private makeRoom(bytes: number): void {
    while (this.partials.size && (this.partials.size >= this.limits.maxPartials || this.held + bytes > this.limits.maxBytes)) {
      let oldest: Partial | undefined;
      for (const p of this.partials.values()) if (!oldest || p.lastAt < oldest.lastAt) oldest = p;
      this.forget(oldest!);
      this.onDrop('chunk-evicted', oldest!.sender, `message ${oldest!.header.id}: ${oldest!.received} of ${oldest!.header.count} pieces, evicted to make room`);
    }
  }

  private forget(p: Partial): void {
    if (this.partials.delete(p.key)) this.held -= p.header.total;
  }

  private remember(key: string): void {
    this.done.push(key);
    this.doneSet.add(key);
    if (this.done.length > RECENT_DONE) this.doneSet.delete(this.done.shift()!);
  }
}
