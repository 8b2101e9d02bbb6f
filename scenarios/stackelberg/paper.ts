import type { PaperRef } from '../types.ts';

/** The source text keeps the paper's body from its abstract on; its title page did not survive extraction. */
export const PAPER: PaperRef = {
  title: 'A game-based scheme for resource purchasing (GURP) and pricing (GSRP) between an edge server and IoT users, modelled as a Stackelberg game',
  note: 'descriptive title: the text the project has begins at the abstract, so the paper’s own title, its authors, venue, year and DOI are not known to mecsim',
};
