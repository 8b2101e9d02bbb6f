/**
 * The slot protocol as message rounds. The broker (leader) keeps Z across slots and the current
 * allocation rows; each slot starts from an empty allocation.
 *
 * Game round φ (until ‖BR − Λ‖₂ ≤ ε or φ = Φ):
 *  - `sequential` (the seed): for i = 0..N−1, one direct `br` request to `ue-i` carrying the current
 *    server loads L (M numbers) and Z; ue-i answers its best response, and the broker folds it into L
 *    before asking ue-(i+1). N request/replies per round — sequential by definition.
 *  - `simultaneous`: one `br` broadcast to every UE with L, Z and the damping κ (1 in round 1); each
 *    answers (1−κ)·row + κ·BR; the broker recomputes L from all rows in roster order.
 *  A `br` reply is {s: eligible servers, x: the UE's new row on them, d2: ‖BR − old row‖², n: loops,
 *  w: its cycles per task a_i δ_i / λ_i this slot}.
 * Then, once per slot, two closing rounds:
 *  - `serve`: one direct message to each `mec-j` carrying only its column of the final allocation
 *    {u: UE indices, x: λ_ij, w: cycles per task} (entries λ_ij ≠ 0); the server answers its load
 *    Λ_j = Σ_i λ_ij, its execution energy E_j = Σ_i c_p,ij and the execution time t_p,ij of each
 *    entry (model.ts `serveColumn`). M direct requests + M replies.
 *  - `final`: one broadcast to the UEs with the loads the servers published and Z; each UE answers
 *    its own part {Qt: transmission + deployment time, Cm: deployment energy, Qs, mig, used, xi}
 *    and commits its row as "last slot's allocation" (deployment costs).
 * The broker settles the slot from these replies alone (model.ts `settle`): C = Σ_j E_j + Σ_i Cm_i,
 * Q_i = Qt_i + Σ_j t_p,ij over the servers UE i uses; it updates Z with that C (eq. 9). The
 * servers' numbers are load-bearing: the broker knows no f_j and computes no execution cost.
 */
import type { FollowerContext, Follower, JsonObject, Leader, LeaderContext, SlotOutcome } from '../types.ts';
import { bestResponse, type BrKind } from './br.ts';
import { applyRow, brProblem, columnsOf, cyclesPerTask, damp, othersOf, queueUpdate, serveColumn, settle, ueAccount, ueSlot, usedSet, xi, type Column, type Common, type ServerAccount, type UeSlot } from './model.ts';

/** the equilibrium carries every UE's row when N is at most this (summary size) */
export const ROWS_MAX_N = 100;

export type Order = 'sequential' | 'simultaneous';

export interface BrokerInit extends JsonObject {
  order: Order;
  M: number;
  N: number;
  cbar: number;
  epsilon: number;
  Phi: number;
  kappa: number;
}

export interface UeInit extends JsonObject {
  seed: number;
  index: number;
  eta: number;
  common: Common & JsonObject;
  br: BrKind;
  psi: number;
  gamma: number;
}

/** a MEC server: its own parameters only */
export interface MecInit extends JsonObject {
  index: number;
  /** CPU frequency f_j, cycles/s */
  f: number;
  /** chip constant b */
  b: number;
  /** position (x, y) on the plane's diagonal, m */
  pos: number[];
}

interface BrReply {
  s: number[];
  x: number[];
  d2: number;
  n: number;
  w: number;
  ok: boolean;
}

interface FinalReply {
  Qt: number;
  Cm: number;
  Qs: number;
  mig: number;
  used: number;
  xi: number;
}

const isNumArr = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

export function createBroker(init: BrokerInit, resume?: JsonObject): Leader {
  let Z = resume && typeof resume.Z === 'number' ? resume.Z : 1;
  return {
    snapshot: () => ({ Z }),
    async runSlot(ctx: LeaderContext): Promise<SlotOutcome> {
      const ues = ctx.roster.map((a, pos) => ({ a, pos })).filter((e) => e.a.role === 'ue');
      const mecs = ctx.roster.map((a, pos) => ({ a, pos })).filter((e) => e.a.role === 'mec');
      const N = ues.length;
      const w = new Array<number>(N).fill(0);
      const loads = new Array<number>(init.M).fill(0);
      const servers: (number[] | undefined)[] = new Array(N).fill(undefined);
      const rows: (number[] | undefined)[] = new Array(N).fill(undefined);
      let missing = 0;
      let loopsTotal = 0;
      let brCalls = 0;
      let converged = false;
      let phi = 0;
      let gap = Infinity;
      const take = (k: number, r: BrReply | undefined): number => {
        // a reply must name real servers (integers in [0, M)): an index like 1e9 would grow `loads` to a sparse
        // array of a billion entries and stall the broker
        if (!r || !isNumArr(r.s) || !isNumArr(r.x) || r.s.length !== r.x.length || r.s.length > init.M || !r.s.every((j) => Number.isInteger(j) && j >= 0 && j < init.M) || typeof r.d2 !== 'number' || typeof r.n !== 'number') {
          missing++;
          return 0;
        }
        if (init.order === 'sequential') applyRow(loads, r.s, rows[k], r.x);
        servers[k] = r.s;
        rows[k] = r.x;
        if (typeof r.w === 'number' && Number.isFinite(r.w)) w[k] = r.w;
        loopsTotal += r.n;
        brCalls++;
        return r.d2;
      };
      while (phi < init.Phi) {
        phi++;
        let d2 = 0;
        const loopsBefore = loopsTotal;
        if (init.order === 'sequential') {
          for (let k = 0; k < N; k++) {
            const res = await ctx.round<BrReply>({ kind: 'br', to: [ues[k].a.id], body: { L: loads, Z, k: 1, r: phi } });
            d2 += take(k, res.replies[ues[k].pos]);
          }
        } else {
          const res = await ctx.round<BrReply>({ kind: 'br', to: 'ue', body: { L: loads, Z, k: phi === 1 ? 1 : init.kappa, r: phi } });
          for (let k = 0; k < N; k++) d2 += take(k, res.replies[ues[k].pos]);
          loads.fill(0);
          for (let k = 0; k < N; k++) if (servers[k]) applyRow(loads, servers[k]!, undefined, rows[k]!);
        }
        gap = Math.sqrt(d2);
        ctx.record({ phase: 'game', round: phi, gap, loops: loopsTotal - loopsBefore });
        if (gap <= init.epsilon) {
          converged = true;
          break;
        }
      }
      // ---- serve: each server gets its column and publishes Λ_j, its execution energy and times ----
      const notes: string[] = [];
      const cols = columnsOf(init.M, servers.map((x) => x ?? []), rows.map((x) => x ?? []), w);
      const bodies: Record<string, JsonObject> = {};
      for (const e of mecs) if (e.a.index < init.M) bodies[e.a.id] = cols[e.a.index] as unknown as JsonObject;
      const served = await ctx.round<ServerAccount>({ kind: 'serve', to: mecs.filter((e) => e.a.index < init.M).map((e) => e.a.id), bodies, reuseLast: false });
      const mecPos = new Map(mecs.map((e) => [e.a.index, e.pos]));
      const silent: number[] = [];
      const accounts = cols.map((col, j): ServerAccount => {
        const pos = mecPos.get(j);
        const r = pos === undefined ? undefined : served.replies[pos];
        if (r && typeof r.L === 'number' && Number.isFinite(r.L) && typeof r.E === 'number' && Number.isFinite(r.E) && isNumArr(r.tp) && r.tp.length === col.x.length) return r;
        silent.push(j);
        return { L: loads[j], E: 0, tp: col.x.map(() => 0) };
      });
      if (silent.length) {
        missing += silent.length;
        notes.push(`no valid account from mec-${silent.join(', mec-')}: the broker's own load used, execution energy and time counted as 0`);
      }
      const published = accounts.map((a) => a.L);
      // ---- final: the UEs' own parts at the published loads ----
      const fin = await ctx.round<FinalReply>({ kind: 'final', to: 'ue', body: { L: published, Z } });
      let QsSum = 0;
      let xiSum = 0;
      let migrations = 0;
      let usedSum = 0;
      const parts = ues.map((e) => {
        const r = fin.replies[e.pos];
        if (!r || typeof r.Qt !== 'number' || typeof r.Cm !== 'number') {
          missing++;
          return { Qt: 0, Cm: 0 };
        }
        QsSum += r.Qs;
        xiSum += r.xi;
        migrations += r.mig;
        usedSum += r.used;
        return r;
      });
      const st = settle(cols, accounts, parts);
      const C = st.C;
      let Qsum = 0;
      for (const q of st.Q) Qsum += q;
      const Znext = queueUpdate(Z, init.cbar, C);
      const equilibrium: JsonObject = {
        Z,
        Znext,
        C,
        Cexec: st.Cexec,
        latency: Qsum / N,
        latencySmooth: QsSum / N,
        xi: xiSum,
        migrations,
        serversPerUe: usedSum / N,
        loads: published,
      };
      if (N <= ROWS_MAX_N) {
        equilibrium.servers = servers.map((s) => s ?? []);
        equilibrium.alloc = rows.map((x) => x ?? []);
      }
      // `neGap` (‖BR − Λ‖₂ at the stop), not `gap`: slots.csv already has a `gap` column (distributed vs reference)
      const extra: JsonObject = { Z, C, Cexec: st.Cexec, latency: Qsum / N, gameRounds: phi, loops: loopsTotal, loopsPerBr: brCalls ? loopsTotal / brCalls : 0, migrations, neGap: gap, stop: converged ? 'epsilon' : 'Phi' };
      ctx.record({ phase: 'slot', round: phi + 1, Z, C, Cexec: st.Cexec, latency: Qsum / N, gameRounds: phi, loops: loopsTotal, migrations });
      if (!converged) notes.push(`stopped at Φ = ${init.Phi} rounds with ‖BR − Λ‖₂ = ${gap.toExponential(3)} > ε`);
      if (missing) notes.push(`${missing} missing or malformed replies (last strategies used)`);
      Z = Znext;
      return { equilibrium, converged, extra, notes: notes.length ? notes : undefined };
    },
  };
}

export function createUe(init: UeInit, _ctx?: FollowerContext, resume?: JsonObject): Follower {
  const common = init.common as Common;
  let slot = -1;
  let s: UeSlot | undefined;
  let row: number[] | undefined;
  // carried from one slot to the next: FL's warm start (this UE's previous σ; never reset) and the servers used last slot
  // (migrations); the runtime snapshots them at each slot's start, so a restarted UE resumes exactly
  let sigma: number | undefined = resume && typeof resume.sigma === 'number' ? resume.sigma : undefined;
  let prevUsed = new Set<number>(resume && Array.isArray(resume.prev) ? resume.prev.filter((j): j is number => Number.isInteger(j)) : []);
  const enter = (t: number) => {
    if (t !== slot) {
      slot = t;
      s = ueSlot(init.seed, init.index, init.eta, t, common);
      row = undefined;
    }
    return s!;
  };
  return {
    snapshot: (): JsonObject => (sigma === undefined ? { prev: [...prevUsed] } : { sigma, prev: [...prevUsed] }),
    handle(kind, body, meta): JsonObject | undefined {
      const L = body.L;
      const Z = body.Z;
      if (!isNumArr(L) || L.length !== common.M || typeof Z !== 'number' || !(Z >= 1) || !Number.isFinite(Z)) return undefined;
      const p = enter(meta.slot);
      if (kind === 'br') {
        const k = body.k;
        if (typeof k !== 'number' || !(k > 0 && k <= 1)) return undefined;
        if (body.r === 1) row = undefined;
        const prob = brProblem(p, common.V, common.b, Z, othersOf(L, p.servers, row));
        const res = bestResponse(init.br, prob, init.psi, init.gamma, sigma);
        sigma = res.sigma;
        let d2 = 0;
        for (let q = 0; q < res.x.length; q++) d2 += (res.x[q] - (row ? row[q] : 0)) ** 2;
        const next = damp(row, res.x, k);
        const reply = { s: p.servers, x: next, d2, n: res.loops, w: cyclesPerTask(p), ok: res.ok };
        if (!allFinite(reply)) return undefined; // absurd inputs (e.g. Z near 1e308) overflow: no answer, state unchanged
        row = next;
        return reply;
      }
      if (kind === 'final') {
        const x = row ?? p.servers.map(() => 0);
        const c = ueAccount(p, p.servers, x, L, prevUsed, common, new Set(p.servers));
        const val = xi(p, common.V, common.b, Z, othersOf(L, p.servers, x), x);
        const reply = { Qt: c.Qt, Cm: c.Cm, Qs: c.Qs, mig: c.migrations, used: c.used, xi: val };
        if (!allFinite(reply)) return undefined;
        prevUsed = usedSet(p.servers, x);
        return reply;
      }
      return undefined;
    },
  };
}

/** every number in a reply is finite (a reply with NaN/Infinity would be dropped by its receiver anyway) */
function allFinite(x: unknown): boolean {
  if (typeof x === 'number') return Number.isFinite(x);
  if (Array.isArray(x)) return x.every(allFinite);
  if (x && typeof x === 'object') return Object.values(x).every(allFinite);
  return true;
}

/**
 * `mec-j`: at a slot's end it receives its column of the final allocation and publishes its load
 * Λ_j, its execution energy and each entry's execution time (model.ts `serveColumn`), from its own
 * f_j and b. Stateless across slots; a malformed column gets no answer.
 */
export function createMec(init: MecInit, _ctx?: FollowerContext): Follower {
  return {
    handle(kind, body): JsonObject | undefined {
      if (kind !== 'serve') return undefined;
      const { u, x, w } = body;
      if (!isNumArr(u) || !isNumArr(x) || !isNumArr(w) || u.length !== x.length || w.length !== x.length) return undefined;
      if (!u.every((i) => Number.isInteger(i) && i >= 0) || !x.every((v) => v >= 0) || !w.every((v) => v > 0)) return undefined;
      const col: Column = { u, x, w };
      return serveColumn(init.f, init.b, col) as unknown as JsonObject;
    },
  };
}
