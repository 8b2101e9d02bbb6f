import type { PaperRef } from '../types.ts';

/** The project has a Chinese translation of the paper; its DOI and venue are in the translation's front matter. */
export const PAPER: PaperRef = {
  title: '移动边缘云计算网络的高效计算资源共享 (efficient computation resource sharing for mobile edge-cloud computing networks)',
  authors: 'Yongmin Zhang (张永民), Xiaolong Lan (兰晓龙), Ju Ren (任菊), Lin Cai (蔡林)',
  venue: 'IEEE/ACM Transactions on Networking',
  year: 2020,
  doi: '10.1109/TNET.2020.2979807',
  note: 'cited from a Chinese translation: the English title in parentheses is translated back from it, not quoted; the authors’ Latin names are as the translation’s affiliations and e-mail addresses give them. Published 25 March 2020',
};
