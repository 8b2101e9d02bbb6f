export const stackelberg = { id: 'stackelberg' };
