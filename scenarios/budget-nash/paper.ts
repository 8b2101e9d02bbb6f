import type { PaperRef } from '../types.ts';

export const PAPER: PaperRef = {
  title: 'Budget-Constrained Service Allocation Optimization for Mobile Edge Computing',
  authors: 'Yan Ding, Kenli Li, Chubo Liu, Zhuo Tang, Keqin Li',
  venue: 'IEEE Transactions on Services Computing',
  year: 2023,
  doi: '10.1109/TSC.2021.3133547',
  note: 'the venue as the DOI names it (TSC); published online 9 December 2021, current version 6 February 2023 (the year given)',
};
