import type { PaperRef } from '../types.ts';

/** The source text keeps the paper's body from its abstract on; its title page did not survive extraction. */
export const PAPER: PaperRef = {
  title: 'Energy-efficiency optimization of mobile edge computing by a multidimensional game (offloading decision × transmit power), with Stackelberg pricing of load migration and mobility, for mobile e-commerce customer management',
  note: 'descriptive title: the text the project has begins at the abstract, so the paper’s own title, its authors, venue, year and DOI are not known to mecsim',
};
