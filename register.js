// `node --import mecsim/register …`: run TypeScript (a scenario, its tests) through tsx, the way
// mecsim runs its own sources; tsx is resolved from mecsim's own dependencies.
import { register } from 'tsx/esm/api';

register();
