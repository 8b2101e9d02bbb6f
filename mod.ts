/**
 * `mecsim` as a library: what a model author imports to write a scenario of their own.
 *
 *   import { type CompleteScenario, ConfigError, stream, configSchema, Num } from 'mecsim';
 *
 * Everything here is pure (no bus, no files, no processes), so a scenario that imports only this
 * module stays decision logic that the in-process runner and the agents execute alike. Running a
 * scenario over NATS from a program (a test, a notebook) is `mecsim/run` (run.ts), kept apart so a
 * scenario's own module graph never pulls in the orchestrator. The guide: docs/guide.md.
 */

// the contract between a scenario and the runtimes
export type {
  AgentSpec,
  BenchPlan,
  BenchRowView,
  BenchRun,
  BenchVariant,
  PaperRef,
  Claim,
  ClaimNumber,
  CompleteScenario,
  Follower,
  FollowerContext,
  Json,
  JsonObject,
  Leader,
  LeaderContext,
  Mechanism,
  MechanismParts,
  ReferenceRun,
  ReferenceSlot,
  RoleName,
  RoundRequest,
  RoundResult,
  RunInput,
  Scenario,
  ScenarioOption,
  ScenarioParts,
  SlotOutcome,
} from './scenarios/types.ts';
export { ConfigError } from './scenarios/types.ts';
export { columnOf, describeSlotOf, mechanismOf, partsOf, ROLE_NAME, roundResult, scenarioProblems, sortRoster } from './scenarios/contract.ts';

// seeded random streams: every draw named by (seed, role, index, purpose)
export { stream, type Rng } from './scenarios/common/rng.ts';

// parameters: the config file's schema and the one checker for flag and file values
export { BEYOND_MAX_AGENTS, Bool, checkConfig, configSchema, COUNT, Count, Int, isCount, ListOf, MAX_AGENTS, MAX_SLOTS, Num, NumOrNull, OneOf, param, Strict } from './scenarios/common/schema.ts';

// figures as data (Vega-Lite specs) for the run's report
export { barsFigure, linesFigure, numericCols, seriesFigure, thin, type Figure, type Row, type RunData, type VlSpec } from './scenarios/common/figures.ts';

// root finding and maximisation for reference solvers
export { bisectIncreasing, brentRoot, goldenMax, type BrentOptions, type RootResult } from './scenarios/common/roots.ts';

// the protocol run in this process, message for message: an author's own tests
export { InProcessRun, targetsOf, type InProcessSlot } from './scenarios/inprocess.ts';
export { resolveConfig, runInProcess, type InProcessResult, type RunInputs } from './scenarios/harness.ts';
