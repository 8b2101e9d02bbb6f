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
 *  A `br` reply is {s: eligible servers, x: the UE's new row on them, d2: ‖BR − old row‖², n: loops}.
 * Then one `final` broadcast with the final L and Z: each UE answers its reported costs
 * {Q, Qs, C, mig, used, xi} and commits its row as "last slot's allocation" (deployment costs);
 * the broker sums C in roster order and updates Z (eq. 9).
 *
 * MEC servers are not agents here: a server has no decision in the spec's game; its load Λ_j is a
 * sum the broker already forms from the UEs' replies, and f_j is a per-index parameter in each UE's
 * init (M numbers). Making `mec-j` an agent would add M messages per round carrying nothing new.
 */
import type { FollowerContext, Follower, JsonObject, Leader, LeaderContext, SlotOutcome } from '../types.ts';
import { bestResponse, type BrKind } from './br.ts';
import { applyRow, brProblem, costsOf, damp, othersOf, queueUpdate, ueSlot, usedSet, xi, type Common, type UeSlot } from './model.ts';

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

interface BrReply {
  s: number[];
  x: number[];
  d2: number;
  n: number;
  ok: boolean;
}

interface FinalReply {
  Q: number;
  Qs: number;
  C: number;
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
      const N = ues.length;
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
        if (!r || !isNumArr(r.s) || !isNumArr(r.x) || r.s.length !== r.x.length) {
          missing++;
          return 0;
        }
        if (init.order === 'sequential') applyRow(loads, r.s, rows[k], r.x);
        servers[k] = r.s;
        rows[k] = r.x;
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
      const fin = await ctx.round<FinalReply>({ kind: 'final', to: 'ue', body: { L: loads, Z } });
      let C = 0;
      let Qsum = 0;
      let QsSum = 0;
      let xiSum = 0;
      let migrations = 0;
      let usedSum = 0;
      for (let k = 0; k < N; k++) {
        const r = fin.replies[ues[k].pos];
        if (!r) {
          missing++;
          continue;
        }
        C += r.C;
        Qsum += r.Q;
        QsSum += r.Qs;
        xiSum += r.xi;
        migrations += r.mig;
        usedSum += r.used;
      }
      const Znext = queueUpdate(Z, init.cbar, C);
      const equilibrium: JsonObject = {
        Z,
        Znext,
        C,
        latency: Qsum / N,
        latencySmooth: QsSum / N,
        xi: xiSum,
        migrations,
        serversPerUe: usedSum / N,
        loads: loads.slice(),
      };
      if (N <= ROWS_MAX_N) {
        equilibrium.servers = servers.map((s) => s ?? []);
        equilibrium.alloc = rows.map((x) => x ?? []);
      }
      const extra: JsonObject = { Z, C, latency: Qsum / N, gameRounds: phi, loops: loopsTotal, loopsPerBr: brCalls ? loopsTotal / brCalls : 0, migrations, gap, stop: converged ? 'epsilon' : 'Phi' };
      ctx.record({ phase: 'slot', round: phi + 1, Z, C, latency: Qsum / N, gameRounds: phi, loops: loopsTotal, migrations });
      const notes: string[] = [];
      if (!converged) notes.push(`stopped at Φ = ${init.Phi} rounds with ‖BR − Λ‖₂ = ${gap.toExponential(3)} > ε`);
      if (missing) notes.push(`${missing} missing or malformed replies (last strategies used)`);
      Z = Znext;
      return { equilibrium, converged, extra, notes: notes.length ? notes : undefined };
    },
  };
}

export function createUe(init: UeInit, _ctx?: FollowerContext): Follower {
  const common = init.common as Common;
  let slot = -1;
  let s: UeSlot | undefined;
  let row: number[] | undefined;
  let sigma: number | undefined;
  let prevUsed = new Set<number>();
  const enter = (t: number) => {
    if (t !== slot) {
      slot = t;
      s = ueSlot(init.seed, init.index, init.eta, t, common);
      row = undefined;
    }
    return s!;
  };
  return {
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
        row = damp(row, res.x, k);
        return { s: p.servers, x: row, d2, n: res.loops, ok: res.ok };
      }
      if (kind === 'final') {
        const x = row ?? p.servers.map(() => 0);
        const c = costsOf(p, p.servers, x, L, prevUsed, common, new Set(p.servers));
        const val = xi(p, common.V, common.b, Z, othersOf(L, p.servers, x), x);
        prevUsed = usedSet(p.servers, x);
        return { Q: c.Q, Qs: c.Qsmooth, C: c.C, mig: c.migrations, used: c.used, xi: val };
      }
      return undefined;
    },
  };
}
