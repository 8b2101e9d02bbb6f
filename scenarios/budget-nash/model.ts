/**
 * budget-nash model (docs/scenarios/budget-nash.md): parameters drawn from the run seed,
 * positions and movement, eligibility and rate decay, the smooth own-cost ξ_i and its gradient
 * (eq. 26), the reported per-slot costs and the Lyapunov queue update.
 *
 * Units: positions and distances in m, rates in bit/s (r_max is drawn in Mbit/s), CPU frequency in
 * cycles/s, energy in J, latency in s. A slot lasts 1 s.
 */
import { stream } from '../common/rng.ts';

/** a server counts as used by a UE when λ_ij exceeds this (spec) */
export const USED = 1e-9;
/** the rate decay is 1 within this distance (m), 5/d beyond it */
export const DECAY_RADIUS_M = 5;
/** seconds per slot */
export const SLOT_S = 1;

/** The run-wide parameters every UE needs (they do not grow with N). */
export interface Common {
  M: number;
  /** CPU frequency of each server, cycles/s (length M) */
  f: number[];
  V: number;
  b: number;
  /** eligibility threshold on the rate decay α_ij */
  alpha: number;
  /** half-width of the square plane [−area, area]², m */
  area: number;
  /** server k sits at (spacing·(j − ⌊M/2⌋), same), m */
  spacing: number;
}

/** A UE's parameters for one slot (drawn from (seed, 'ue', i, 'slot', τ)). */
export interface SlotDraw {
  /** tasks λ_i */
  lambda: number;
  /** processing density δ_i, cycles/bit */
  delta: number;
  /** data size a_i, bit */
  a: number;
  /** maximum rate r_i,max, bit/s */
  rmax: number;
  /** m_ij, s (length M) */
  m: number[];
  /** e_ijm, J (length M) */
  e: number[];
}

/** The seed's r_a: a fresh uniform integer in [1, 5] for each draw. */
const ra = (g: ReturnType<typeof stream>) => g.int(1, 5);

export function drawServerF(seed: number, j: number): number {
  return ra(stream(seed, 'mec', j, 'params')) * 1e10;
}

/** speed η_i ∈ {3, 4, 5} m/s along the diagonal, drawn once */
export function drawEta(seed: number, i: number): number {
  return stream(seed, 'ue', i, 'move', 'speed').int(3, 5);
}

export function drawSlot(seed: number, i: number, slot: number, M: number): SlotDraw {
  const g = stream(seed, 'ue', i, 'slot', slot);
  const lambda = 3 + 0.1 * ra(g);
  const delta = 1000 + 10 * ra(g);
  const a = 10_475_760 + 100 * ra(g);
  const rmax = (100 + 0.1 * ra(g)) * 1e6;
  const m = new Array<number>(M);
  const e = new Array<number>(M);
  for (let j = 0; j < M; j++) {
    m[j] = 3.1 + 0.1 * ra(g);
    e[j] = 1 + 0.1 * ra(g);
  }
  return { lambda, delta, a, rmax, m, e };
}

/** Server j's coordinate on the diagonal (x = y = this), m. */
export function serverCoord(j: number, c: Pick<Common, 'M' | 'spacing'>): number {
  return c.spacing * (j - Math.floor(c.M / 2));
}

/**
 * UE i's position at a slot, as its signed distance from (0, 0) along the diagonal (the point
 * (u/√2, u/√2)), m: it starts at 0 and moves in the +x,+y direction at η m/s, reflecting at the
 * plane's edge (per-axis ±area, i.e. ±area·√2 along the diagonal).
 *
 * Measured along the diagonal, the distance η·τ travelled before the first reflection is an exact
 * integer and the server at (0, 0) is at distance exactly |u| — a UE 10 m from it is at distance 10,
 * not 10.000000000000002 as a per-axis coordinate η·τ/√2 would give. After a reflection the edge
 * ±area·√2 is irrational and no distance to a server can be an exact boundary value anyway.
 */
export function ueCoord(eta: number, slot: number, area: number): number {
  const p = eta * slot * SLOT_S;
  const half = area * Math.SQRT2;
  const period = 4 * half;
  // p − k·period with k = 0 until the first reflection, so q = p exactly there; q ∈ [−half, 3·half)
  const q = p - period * Math.floor((p + half) / period);
  return q > half ? 2 * half - q : q;
}

/** Server j's position along the diagonal (signed distance of (x, x) from (0, 0)), m. */
export function serverArc(j: number, c: Pick<Common, 'M' | 'spacing'>): number {
  return Math.SQRT2 * serverCoord(j, c);
}

/** Distance between a UE at diagonal position u (see `ueCoord`) and server j, m. */
export function distance(u: number, j: number, c: Pick<Common, 'M' | 'spacing'>): number {
  return Math.abs(u - serverArc(j, c));
}

/** rate decay α_ij = 1 within 5 m, else 5 / d */
export function decay(d: number): number {
  return d <= DECAY_RADIUS_M ? 1 : DECAY_RADIUS_M / d;
}

/**
 * Relative tolerance of the eligibility test α_ij ≥ α(1 − tol) (spec, revision 2): a distance that
 * equals the range mathematically but carries a rounding error (after a reflection) keeps its server.
 */
export const ELIGIBLE_TOL = 1e-12;

/**
 * The servers UE i may use at diagonal position u: those with α_ij ≥ α(1 − 10⁻¹²), ascending index;
 * if none, the nearest one (ties to the lower index).
 */
export function eligibleServers(u: number, c: Pick<Common, 'M' | 'spacing' | 'alpha'>): number[] {
  const out: number[] = [];
  let nearest = 0;
  let best = Infinity;
  for (let j = 0; j < c.M; j++) {
    const d = distance(u, j, c);
    if (decay(d) >= c.alpha * (1 - ELIGIBLE_TOL)) out.push(j);
    if (d < best) {
      best = d;
      nearest = j;
    }
  }
  return out.length ? out : [nearest];
}

/**
 * One UE's problem in one slot: the eligible servers and, for each, the constant slope
 * A_j = V a/(r_ij λ) + V a δ/(λ f_j) and the execution-energy scale B_j = Z b a δ f_j / λ,
 * so that ∂ξ_i/∂λ_ij = A_j + B_j (1 − c_j²/(λ_ij + c_j)²) with c_j = λ_−i,j + 1 (eq. 26).
 */
export interface UeSlot {
  index: number;
  lambda: number;
  delta: number;
  a: number;
  rmax: number;
  /** position along the diagonal (signed distance from (0, 0), see `ueCoord`), m */
  u: number;
  /** eligible servers, ascending */
  servers: number[];
  /** rate r_ij for each eligible server, bit/s */
  rate: number[];
  /** f_j for each eligible server */
  f: number[];
  /** m_ij, e_ijm for each eligible server */
  m: number[];
  e: number[];
  /** m_ij, e_ijm, f_j for every server (deployment costs can fall on any server a baseline uses) */
  mAll: number[];
  eAll: number[];
}

export function ueSlot(seed: number, i: number, eta: number, slot: number, c: Common): UeSlot {
  const d = drawSlot(seed, i, slot, c.M);
  const u = ueCoord(eta, slot, c.area);
  const servers = eligibleServers(u, c);
  return {
    index: i,
    lambda: d.lambda,
    delta: d.delta,
    a: d.a,
    rmax: d.rmax,
    u,
    servers,
    rate: servers.map((j) => decay(distance(u, j, c)) * d.rmax),
    f: servers.map((j) => c.f[j]),
    m: servers.map((j) => d.m[j]),
    e: servers.map((j) => d.e[j]),
    mAll: d.m,
    eAll: d.e,
  };
}

/** The separable form of ξ_i for a given Z and the others' loads on the eligible servers. */
export interface BrProblem {
  lambda: number;
  /** A_j, B_j, c_j = λ_−i,j + 1 per eligible server */
  A: number[];
  B: number[];
  c: number[];
  /** the Z-free constant V a δ / (λ f_j), charged per unit of (λ_ij + λ_−i,j + 1) */
  execCoef: number[];
}

export function brProblem(s: UeSlot, V: number, b: number, Z: number, others: number[]): BrProblem {
  const A: number[] = [];
  const B: number[] = [];
  const c: number[] = [];
  const execCoef: number[] = [];
  for (let k = 0; k < s.servers.length; k++) {
    const ex = (V * s.a * s.delta) / (s.lambda * s.f[k]);
    A.push((V * s.a) / (s.rate[k] * s.lambda) + ex);
    B.push((Z * b * s.a * s.delta * s.f[k]) / s.lambda);
    c.push(Math.max(0, others[k]) + 1);
    execCoef.push(ex);
  }
  return { lambda: s.lambda, A, B, c, execCoef };
}

/**
 * ξ_i restricted to UE i's eligible servers, written directly from the spec (not from the
 * gradient): Σ_j V a x/(r λ) + V a δ (x + λ_−i,j + 1)/(λ f_j) + Z b a δ f_j x² / (λ (x + λ_−i,j + 1)).
 */
export function xi(s: UeSlot, V: number, b: number, Z: number, others: number[], x: number[]): number {
  let sum = 0;
  for (let k = 0; k < s.servers.length; k++) {
    const tot = x[k] + Math.max(0, others[k]) + 1;
    sum += (V * s.a * x[k]) / (s.rate[k] * s.lambda) + (V * s.a * s.delta * tot) / (s.lambda * s.f[k]) + (Z * b * s.a * s.delta * s.f[k] * x[k] * x[k]) / (s.lambda * tot);
  }
  return sum;
}

/** ∂ξ_i/∂λ_ij, eq. (26) */
export function xiGradient(s: UeSlot, V: number, b: number, Z: number, others: number[], x: number[]): number[] {
  return s.servers.map((_, k) => {
    const o = Math.max(0, others[k]);
    const t = x[k] + o + 1;
    return (b * Z * s.a * s.delta * s.f[k] * (x[k] * x[k] + 2 * x[k] * o + 2 * x[k])) / (s.lambda * t * t) + (V * s.a) / (s.rate[k] * s.lambda) + (V * s.a * s.delta) / (s.lambda * s.f[k]);
  });
}

/** A UE's reported costs for one slot, given the final server loads. */
export interface UeCosts {
  /** latency Q_i over the servers actually used (transmission + deployment + execution), s */
  Q: number;
  /** the smooth latency ξ_i charges: transmission + execution on every eligible server, s */
  Qsmooth: number;
  /** MSP energy for this UE: execution + deployment, J */
  C: number;
  /** new deployments (servers used now and not in the previous slot) */
  migrations: number;
  /** servers used */
  used: number;
}

/**
 * Reported costs of an allocation `x` over `servers` (any servers, not only eligible ones — a
 * baseline may use its nearest server), with rates and frequencies given per entry.
 */
export function costsOf(
  p: { lambda: number; a: number; delta: number; rmax: number; u: number; mAll: number[]; eAll: number[] },
  servers: number[],
  x: number[],
  loads: number[],
  prevUsed: ReadonlySet<number>,
  c: Common,
  eligible?: ReadonlySet<number>,
): UeCosts {
  let Q = 0;
  let Qsmooth = 0;
  let C = 0;
  let migrations = 0;
  let used = 0;
  for (let k = 0; k < servers.length; k++) {
    const j = servers[k];
    const r = decay(distance(p.u, j, c)) * p.rmax;
    const fj = c.f[j];
    const tr = (p.a / r) * (x[k] / p.lambda);
    const tp = (p.a * p.delta * (loads[j] + 1)) / (p.lambda * fj);
    const cp = (c.b * p.a * p.delta * fj * x[k] * x[k]) / (p.lambda * (loads[j] + 1));
    C += cp;
    if (!eligible || eligible.has(j)) Qsmooth += tr + tp;
    if (x[k] > USED) {
      used++;
      Q += tr + tp;
      if (!prevUsed.has(j)) {
        migrations++;
        Q += p.mAll[j];
        C += p.eAll[j];
      }
    }
  }
  return { Q, Qsmooth, C, migrations, used };
}

/**
 * The same costs split between the parties that know them (what the protocol and the reference
 * both use; `costsOf` above is the spec's formula in one piece, kept as the check):
 *  - server j (`serveColumn`): its load Λ_j, execution time t_p,ij and energy c_p,ij for the tasks
 *    in its column;
 *  - UE i (`ueAccount`): transmission and deployment time over the servers it uses, deployment
 *    energy e_ijm, migrations; and, as a diagnostic, the smooth latency over its eligible servers;
 *  - `settle` sums them in one fixed order into the slot's MSP energy C and each UE's latency Q_i.
 */

/**
 * What server j is sent at a slot's end: its column of the final allocation, in ascending UE index,
 * entries with λ_ij ≠ 0 only: the UE's index, λ_ij, and its cycles per task w_i = a_i δ_i / λ_i.
 */
export interface Column {
  u: number[];
  x: number[];
  w: number[];
}

/** Server j's account of one slot: Λ_j, Σ_i c_p,ij (J) and t_p,ij (s) per column entry. */
export interface ServerAccount {
  L: number;
  E: number;
  tp: number[];
}

/** UE i's own part of its costs. */
export interface UeAccount {
  /** transmission + deployment time over the servers used, s */
  Qt: number;
  /** deployment energy Σ e_ijm over newly used servers, J */
  Cm: number;
  /** smooth latency: transmission + execution on every eligible server (at the published loads), s */
  Qs: number;
  migrations: number;
  used: number;
}

/** cycles per task w_i = a_i δ_i / λ_i (a task of UE i carries a_i/λ_i bits) */
export function cyclesPerTask(p: { a: number; delta: number; lambda: number }): number {
  return (p.a * p.delta) / p.lambda;
}

/** the servers' columns of an allocation (rows per UE over `servers`), UEs in index order */
export function columnsOf(M: number, servers: number[][], rows: number[][], w: number[]): Column[] {
  const cols: Column[] = Array.from({ length: M }, () => ({ u: [], x: [], w: [] }));
  for (let i = 0; i < rows.length; i++) {
    for (let k = 0; k < servers[i].length; k++) {
      const x = rows[i][k];
      if (x === 0) continue;
      const col = cols[servers[i][k]];
      col.u.push(i);
      col.x.push(x);
      col.w.push(w[i]);
    }
  }
  return cols;
}

/**
 * Server j with CPU f_j: its load Λ_j = Σ_i λ_ij (summed in column order), the execution time
 * t_p,ij = w_i (Λ_j + 1) / f_j of each entry (= W_ij / f_ij with W_ij = w_i λ_ij cycles and
 * f_ij = f_j λ_ij / (Λ_j + 1)), and its execution energy Σ_i c_p,ij, c_p,ij = t_p,ij b f_ij²
 * = b w_i f_j λ_ij² / (Λ_j + 1).
 */
export function serveColumn(fj: number, b: number, col: Column): ServerAccount {
  let L = 0;
  for (const x of col.x) L = L + x;
  let E = 0;
  const tp: number[] = [];
  for (let k = 0; k < col.x.length; k++) {
    const x = col.x[k];
    tp.push((col.w[k] * (L + 1)) / fj);
    E += (b * col.w[k] * fj * x * x) / (L + 1);
  }
  return { L, E, tp };
}

/** UE i's own part, given the loads the servers published. */
export function ueAccount(
  p: { lambda: number; a: number; delta: number; rmax: number; u: number; mAll: number[]; eAll: number[] },
  servers: number[],
  x: number[],
  loads: number[],
  prevUsed: ReadonlySet<number>,
  c: Common,
  eligible?: ReadonlySet<number>,
): UeAccount {
  let Qt = 0;
  let Cm = 0;
  let Qs = 0;
  let migrations = 0;
  let used = 0;
  for (let k = 0; k < servers.length; k++) {
    const j = servers[k];
    const tr = (p.a / (decay(distance(p.u, j, c)) * p.rmax)) * (x[k] / p.lambda);
    if (!eligible || eligible.has(j)) Qs += tr + (p.a * p.delta * (loads[j] + 1)) / (p.lambda * c.f[j]);
    if (x[k] > USED) {
      used++;
      Qt += tr;
      if (!prevUsed.has(j)) {
        migrations++;
        Qt += p.mAll[j];
        Cm += p.eAll[j];
      }
    }
  }
  return { Qt, Cm, Qs, migrations, used };
}

/**
 * The slot's MSP energy C = Σ_j E_j (servers, index order) + Σ_i Cm_i (UEs, index order), and each
 * UE's latency Q_i = Qt_i + Σ_j t_p,ij over the servers it uses (λ_ij > USED), added in server order.
 */
export function settle(cols: Column[], srv: ServerAccount[], ue: { Qt: number; Cm: number }[]): { C: number; Cexec: number; Cdeploy: number; Q: number[] } {
  let Cexec = 0;
  for (const s of srv) Cexec += s.E;
  let Cdeploy = 0;
  for (const u of ue) Cdeploy += u.Cm;
  const Q = ue.map((u) => u.Qt);
  cols.forEach((col, j) => {
    for (let k = 0; k < col.u.length; k++) if (col.x[k] > USED && col.u[k] < Q.length) Q[col.u[k]] += srv[j].tp[k];
  });
  return { C: Cexec + Cdeploy, Cexec, Cdeploy, Q };
}

/** the set of servers a row uses */
export function usedSet(servers: number[], x: number[]): Set<number> {
  const s = new Set<number>();
  for (let k = 0; k < servers.length; k++) if (x[k] > USED) s.add(servers[k]);
  return s;
}

/** Lyapunov queue, Algorithm LY / eq. (9): Z(τ+1) = max(Z(τ) − C̄ + C(τ), 1) */
export function queueUpdate(Z: number, cbar: number, C: number): number {
  return Math.max(Z - cbar + C, 1);
}

/**
 * Apply one UE's row change to the server loads, in the one fixed arithmetic both the broker and the
 * reference use: for each server of the row, L_j ← L_j + (new_j − old_j).
 */
export function applyRow(loads: number[], servers: number[], oldX: number[] | undefined, newX: number[]): void {
  for (let k = 0; k < servers.length; k++) loads[servers[k]] = loads[servers[k]] + (newX[k] - (oldX ? oldX[k] : 0));
}

/** the others' load on each eligible server: max(0, L_j − own_j) */
export function othersOf(loads: number[], servers: number[], own: number[] | undefined): number[] {
  return servers.map((j, k) => Math.max(0, loads[j] - (own ? own[k] : 0)));
}

/** damped update (1−κ) old + κ BR; κ = 1 returns BR itself */
export function damp(old: number[] | undefined, br: number[], kappa: number): number[] {
  if (kappa === 1 || !old) return br.slice();
  return br.map((v, k) => (1 - kappa) * old[k] + kappa * v);
}
