/*
 * What the addon's training kernels (tuneserve_blas.c) and inference kernels (tuneserve_infer.c) share: the geometry
 * argument of convolution and pooling calls, and the worker pool that splits a kernel across cores.
 */
#ifndef TUNESERVE_COMMON_H
#define TUNESERVE_COMMON_H

#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* Geometry: batch, inH, inW, inC, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft (a pool's window
 * is its filter). JavaScript passes it as an Int32Array of 12. */
typedef struct {
  int64_t n, ih, iw, ci, oh, ow, fh, fw, sh, sw, pt, pl;
} Geometry;

/* Reads an Int32Array of 12 non-negative values into g; false for anything else. Callers add the bounds their
 * kernel needs. */
bool tuneserve_read_geometry(napi_env env, napi_value v, Geometry *g);

/* fn(ctx, lo, hi) runs over consecutive chunks of [0, total), together covering it once. */
typedef void (*RangeFn)(void *ctx, int64_t lo, int64_t hi);

/* Most threads a kernel may use (the calling thread included), 1..TUNESERVE_MAX_THREADS. */
#define TUNESERVE_MAX_THREADS 16
void tuneserve_set_threads(int n);
int tuneserve_threads(void);

/*
 * Runs fn over [0, total) split into `chunks` near-equal chunks (at most total), on up to min(chunks,
 * tuneserve_threads()) threads of a persistent pool; the calling thread works too and returns when every chunk is
 * done. Threads take the next chunk when they finish one, so a core busy with other work slows the kernel by its
 * share only. With one chunk, or while another thread is using the pool, fn runs on the calling thread alone.
 */
void tuneserve_parallel(RangeFn fn, void *ctx, int64_t total, int64_t chunks);

/* The chunk count for a kernel of `work` units (floats moved, multiply-adds) when splitting pays above `threshold`:
 * a few chunks per thread, or 1. */
int64_t tuneserve_chunks(int64_t work, int64_t threshold);

/* A buffer of at least `floats` floats owned by the calling thread and reused by its next call (kernels run per band
 * on pool threads; a malloc per band paid page faults each time). NULL when memory runs out. A kernel must not hold
 * it across a call that may use it again. */
float *tuneserve_scratch(int64_t floats);

/* The direct convolution of tuneserve_infer.c (register-blocked, widest vector set the CPU runs): whether it takes
 * this geometry, the floats of the padded-image scratch it needs per thread (0: none), and images [lo, hi) of
 * y[n, oh, ow, co] = relu?(conv(x, w[fh, fw, ci, co]) + bias) (bias may be NULL). */
bool tuneserve_direct_conv_fits(const Geometry *g, int64_t co);
/* Fits, and co is whole vectors (channels past the last whole vector run one at a time, slower than im2col + sgemm). */
bool tuneserve_direct_conv_fast(const Geometry *g, int64_t co);
int64_t tuneserve_direct_conv_scratch(const Geometry *g);
void tuneserve_direct_conv_images(const float *x, const float *w, const float *bias, float *y, const Geometry *g,
                                  int64_t co, bool relu, int64_t lo, int64_t hi, float *scratch);

/* The direct filter-gradient kernel (training): whether it takes co output channels (whole vectors), and
 * dw[K, co] += cols[rows, K]^T @ dy[rows, co], where cols must be followed by TUNESERVE_FGRAD_PAD readable floats. */
#define TUNESERVE_FGRAD_PAD 24
bool tuneserve_filter_grad_fits(int64_t co);
void tuneserve_filter_grad_rows(const float *cols, int64_t K, const float *dy, int64_t co, int64_t rows, float *dw);

#endif
