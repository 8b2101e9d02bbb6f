/** The entry of an agent process the orchestrator spawns (bundled by orchestrator/agentEntry.ts). */
import { runAgentProcess } from './main.ts';

runAgentProcess();
