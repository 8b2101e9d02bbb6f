import type { PaperRef } from '../types.ts';

/** A Chinese patent document; the text gives its title in Chinese and English, its inventors and dates, no patent number. */
export const PAPER: PaperRef = {
  title: 'Mobile edge computing resource allocation and pricing method based on futures market and spot market (一种基于期货市场和现货市场的移动边缘计算资源分配和定价方法)',
  authors: '张文杰, 郭荣宗, 黄晓雯, 郑艺峰 (Zhang Wenjie, Guo Rongzong, Huang Xiaowen, Zheng Yifeng)',
  venue: 'Chinese invention patent document',
  year: 2021,
  note: 'created 2021-08-11, published 2021-12-10 (the text’s dates); the text gives no patent or publication number',
};
