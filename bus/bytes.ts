/**
 * Copies the first `n` bytes of `src` into `dst` at `at`. Short runs go byte by byte: below about 64
 * bytes a TypedArray.set (a builtin call, and a view when only part of `src` is copied) costs more
 * than the copy itself, and a reply, a frame's `PUB <subject> ` head and most envelopes are short.
 */
export function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, n: number): void {
  if (n < 64) for (let i = 0; i < n; i++) dst[at + i] = src[i];
  else dst.set(n === src.length ? src : src.subarray(0, n), at);
}
