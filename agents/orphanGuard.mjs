/**
 * Preloaded (`node --import`) into every agent process the orchestrator spawns, before the agent's
 * own code: an agent whose orchestrator is gone exits even while it is still loading (the tsx
 * fallback takes seconds of CPU per process on a busy machine), when agents/main.ts has not yet
 * listened for the IPC channel's end. Once loaded, agents/main.ts closes the agent in order within
 * its own grace period; this deadline is a little longer, so it only ends a process that is stuck.
 * Plain JavaScript: it loads before any loader.
 */
const DEADLINE_MS = 3000;

if (process.send) {
  const leave = () => setTimeout(() => process.exit(4), DEADLINE_MS).unref();
  process.once('disconnect', leave);
  if (!process.connected) leave();
}
