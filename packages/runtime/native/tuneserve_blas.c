/*
 * tuneserve's optional accelerator: OpenBLAS sgemm and im2col/col2im working in place on the TF.js wasm heap.
 * JavaScript passes the heap's ArrayBuffer plus element offsets, so no tensor data is copied across the boundary.
 * Every call checks its extents against the heap size and throws a JS error instead of touching memory outside it.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tuneserve_common.h"

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "tuneserve_blas: bad argument: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

/* The heap as floats: accepts an ArrayBuffer or any typed array over it. */
static float *heap_floats(napi_env env, napi_value v, size_t *count) {
  bool is_ab = false;
  void *data = NULL;
  size_t bytes = 0;
  napi_is_arraybuffer(env, v, &is_ab);
  if (is_ab) {
    if (napi_get_arraybuffer_info(env, v, &data, &bytes) != napi_ok) return NULL;
  } else {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok) return NULL;
    napi_get_arraybuffer_info(env, ab, NULL, &bytes);
    bytes -= offset;
  }
  *count = bytes / sizeof(float);
  return (float *)data;
}

/* OpenBLAS itself always runs single-threaded: its own threading barely helps the tall, narrow products of a
 * convolution (P x 64 x 288), so a large product is instead split into bands of rows of C on the addon's worker pool
 * (tuneserve_common.c), each band an independent single-threaded sgemm. Only products of at least LARGE_GEMM
 * multiply-adds are split (smaller ones lose more to the hand-off than they gain), so the MLP's GEMMs stay on the
 * calling thread. */
#define LARGE_GEMM (16LL << 20)
static bool openblas_single = false;

static void openblas_one_thread(void) {
  if (!openblas_single) {
    openblas_set_num_threads(1);
    openblas_single = true;
  }
}

typedef struct {
  bool ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
  const float *a, *b;
  float *c;
  float *partial; /* split along k: one m x n product per chunk */
  int64_t chunks;
} Gemm;

/* Rows [lo, hi) of C; row r of op(A) starts at a + r*lda, or at column r (a + r) when A is stored transposed. */
static void gemm_rows(void *ctx, int64_t lo, int64_t hi) {
  const Gemm *g = (const Gemm *)ctx;
  if (hi <= lo) return;
  cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)(hi - lo),
              (int)g->n, (int)g->k, g->alpha, g->ta ? g->a + lo : g->a + lo * g->lda, (int)g->lda, g->b, (int)g->ldb,
              g->beta, g->c + lo * g->ldc, (int)g->ldc);
}

/* Chunks [lo, hi) of the reduction: chunk i multiplies its slice of k into its own partial product. */
static void gemm_k_parts(void *ctx, int64_t lo, int64_t hi) {
  const Gemm *g = (const Gemm *)ctx;
  for (int64_t i = lo; i < hi; i++) {
    const int64_t k0 = g->k * i / g->chunks, k1 = g->k * (i + 1) / g->chunks;
    const float *a = g->ta ? g->a + k0 * g->lda : g->a + k0;
    const float *b = g->tb ? g->b + k0 : g->b + k0 * g->ldb;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)g->m,
                (int)g->n, (int)(k1 - k0), 1.0f, a, (int)g->lda, b, (int)g->ldb, 0.0f, g->partial + i * g->m * g->n,
                (int)g->n);
  }
}

/* C = alpha op(A) op(B) + beta C. A large product is split into row bands of C of at least 16 rows; one with too few
 * rows for that (a convolution's filter gradient on a first layer: 9 x 32 summed over 86k positions) is split along
 * k into partial products, added afterwards in chunk order (the same result whichever thread ran which chunk). */
static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                 const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  openblas_one_thread();
  Gemm g = {ta, tb, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c, NULL, 0};
  const int64_t chunks = tuneserve_chunks(m * n * k, LARGE_GEMM);
  if (chunks > 1 && m / 16 >= 2) {
    tuneserve_parallel(gemm_rows, &g, m, chunks < m / 16 ? chunks : m / 16);
    return;
  }
  g.chunks = chunks < k / 256 ? chunks : k / 256; /* slices of at least 256 */
  g.partial = g.chunks > 1 ? (float *)malloc(sizeof(float) * (size_t)(g.chunks * m * n)) : NULL;
  if (g.partial == NULL) {
    gemm_rows(&g, 0, m);
    return;
  }
  tuneserve_parallel(gemm_k_parts, &g, g.chunks, g.chunks);
  for (int64_t r = 0; r < m; r++) {
    float *cr = c + r * ldc;
    for (int64_t j = 0; j < n; j++) {
      float sum = 0.0f;
      for (int64_t i = 0; i < g.chunks; i++) sum += g.partial[(i * m + r) * n + j];
      cr[j] = alpha * sum + (beta == 0.0f ? 0.0f : beta * cr[j]);
    }
  }
  free(g.partial);
}

/* Memory-bound kernels (im2col, col2im, pooling, elementwise) are split once they move at least this many floats. */
#define LARGE_COPY (1LL << 17)

/* Last element touched by a batch of row-major matrices, +1. */
static int64_t extent(int64_t off, int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
  if (rows == 0 || cols == 0 || batch == 0) return off;
  return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

/* sgemm(heap, transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch, alpha, beta) */
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 18;
  napi_value argv[18];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 18) {
    napi_throw_error(env, NULL, "tuneserve_blas.sgemm expects 18 arguments");
    return NULL;
  }
  size_t count = 0;
  float *heap = heap_floats(env, argv[0], &count);
  if (heap == NULL) {
    napi_throw_type_error(env, NULL, "tuneserve_blas.sgemm: first argument must be an ArrayBuffer or typed array");
    return NULL;
  }
  bool ta, tb;
  CHECK(napi_get_value_bool(env, argv[1], &ta));
  CHECK(napi_get_value_bool(env, argv[2], &tb));
  int64_t v[13];
  for (int i = 0; i < 13; i++) CHECK(napi_get_value_int64(env, argv[3 + i], &v[i]));
  double alpha, beta;
  CHECK(napi_get_value_double(env, argv[16], &alpha));
  CHECK(napi_get_value_double(env, argv[17], &beta));
  int64_t m = v[0], n = v[1], k = v[2], a = v[3], lda = v[4], sa = v[5], b = v[6], ldb = v[7], sb = v[8];
  int64_t c = v[9], ldc = v[10], sc = v[11], batch = v[12];
  for (int i = 0; i < 13; i++) {
    if (v[i] < 0) {
      napi_throw_range_error(env, NULL, "tuneserve_blas.sgemm: negative size or offset");
      return NULL;
    }
  }
  if (extent(a, ta ? k : m, ta ? m : k, lda, sa, batch) > (int64_t)count ||
      extent(b, tb ? n : k, tb ? k : n, ldb, sb, batch) > (int64_t)count ||
      extent(c, m, n, ldc, sc, batch) > (int64_t)count) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.sgemm: operand outside the heap");
    return NULL;
  }
  for (int64_t i = 0; i < batch; i++) {
    gemm(ta, tb, m, n, k, (float)alpha, heap + a + i * sa, lda, heap + b + i * sb, ldb, (float)beta, heap + c + i * sc,
         ldc);
  }
  return NULL;
}

/* Shared argument handling of im2col / col2im: (heap, srcOffset, dstOffset, geometry). */
static bool conv_args(napi_env env, napi_callback_info info, float **heap, int64_t *src, int64_t *dst, Geometry *g,
                      bool cols_is_src) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) return false;
  size_t count = 0;
  *heap = heap_floats(env, argv[0], &count);
  if (*heap == NULL) return false;
  if (napi_get_value_int64(env, argv[1], src) != napi_ok || napi_get_value_int64(env, argv[2], dst) != napi_ok) return false;
  if (!tuneserve_read_geometry(env, argv[3], g)) return false;
  int64_t image = g->n * g->ih * g->iw * g->ci;
  int64_t cols = g->n * g->oh * g->ow * g->fh * g->fw * g->ci;
  int64_t src_len = cols_is_src ? cols : image, dst_len = cols_is_src ? image : cols;
  return *src >= 0 && *dst >= 0 && *src + src_len <= (int64_t)count && *dst + dst_len <= (int64_t)count;
}

/* An im2col / col2im job: the NHWC image (x, or dx), the [P, K] window matrix and the geometry. */
typedef struct {
  float *image;
  float *cols;
  const Geometry *g;
} ConvCopy;

static void im2col_images(void *ctx, int64_t lo, int64_t hi);
static void col2im_images(void *ctx, int64_t lo, int64_t hi);

static napi_value Im2col(napi_env env, napi_callback_info info) {
  float *heap;
  int64_t xo, co;
  Geometry g;
  if (!conv_args(env, info, &heap, &xo, &co, &g, false)) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.im2col: bad arguments or operand outside the heap");
    return NULL;
  }
  ConvCopy job = {heap + xo, heap + co, &g};
  const int64_t moved = g.n * g.oh * g.ow * g.fh * g.fw * g.ci;
  tuneserve_parallel(im2col_images, &job, g.n, tuneserve_chunks(moved, LARGE_COPY));
  return NULL;
}

static void im2col_block(const float *x, float *cols, const Geometry *geometry, int64_t lo, int64_t hi);

/* Images [lo, hi) of im2col. */
static void im2col_images(void *ctx, int64_t lo, int64_t hi) {
  const ConvCopy *job = (const ConvCopy *)ctx;
  const Geometry *g = job->g;
  im2col_block(job->image, job->cols + lo * g->oh * g->ow * g->fh * g->fw * g->ci, g, lo, hi);
}

/* im2col of images [lo, hi) of x into cols, which holds image lo's first window row. */
static void im2col_block(const float *x, float *cols, const Geometry *geometry, int64_t lo, int64_t hi) {
  const Geometry g = *geometry;
  for (int64_t n = lo; n < hi; n++) {
    const float *xn = x + n * g.ih * g.iw * g.ci;
    for (int64_t oh = 0; oh < g.oh; oh++) {
      for (int64_t ow = 0; ow < g.ow; ow++) {
        for (int64_t kh = 0; kh < g.fh; kh++) {
          int64_t ih = oh * g.sh + kh - g.pt;
          if (ih < 0 || ih >= g.ih) {
            memset(cols, 0, sizeof(float) * g.fw * g.ci);
            cols += g.fw * g.ci;
            continue;
          }
          const int64_t iw0 = ow * g.sw - g.pl;
          if (iw0 >= 0 && iw0 + g.fw <= g.iw) { /* the window's row lies inside the image: one contiguous run */
            const float *src = xn + (ih * g.iw + iw0) * g.ci;
            const int64_t run = g.fw * g.ci;
            for (int64_t i = 0; i < run; i++) cols[i] = src[i];
            cols += run;
            continue;
          }
          for (int64_t kw = 0; kw < g.fw; kw++) {
            int64_t iw = iw0 + kw;
            if (iw < 0 || iw >= g.iw) {
              for (int64_t i = 0; i < g.ci; i++) cols[i] = 0;
            } else {
              /* a plain loop: a memcpy call per element made the one-channel first layer's im2col 7x slower */
              const float *src = xn + (ih * g.iw + iw) * g.ci;
              for (int64_t i = 0; i < g.ci; i++) cols[i] = src[i];
            }
            cols += g.ci;
          }
        }
      }
    }
  }
}

static napi_value Col2im(napi_env env, napi_callback_info info) {
  float *heap;
  int64_t co, xo;
  Geometry g;
  if (!conv_args(env, info, &heap, &co, &xo, &g, true)) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.col2im: bad arguments or operand outside the heap");
    return NULL;
  }
  ConvCopy job = {heap + xo, heap + co, &g};
  const int64_t moved = g.n * g.oh * g.ow * g.fh * g.fw * g.ci;
  tuneserve_parallel(col2im_images, &job, g.n, tuneserve_chunks(moved, LARGE_COPY));
  return NULL;
}

static void col2im_block(float *dx, const float *cols, const Geometry *geometry, int64_t lo, int64_t hi);

/* Images [lo, hi) of col2im (each image's dx is zeroed, then accumulated). */
static void col2im_images(void *ctx, int64_t lo, int64_t hi) {
  const ConvCopy *job = (const ConvCopy *)ctx;
  const Geometry *g = job->g;
  col2im_block(job->image, job->cols + lo * g->oh * g->ow * g->fh * g->fw * g->ci, g, lo, hi);
}

/* col2im of images [lo, hi) into dx (zeroed first); cols holds image lo's first window row. */
static void col2im_block(float *dx, const float *cols, const Geometry *geometry, int64_t lo, int64_t hi) {
  const Geometry g = *geometry;
  memset(dx + lo * g.ih * g.iw * g.ci, 0, sizeof(float) * (hi - lo) * g.ih * g.iw * g.ci);
  for (int64_t n = lo; n < hi; n++) {
    float *xn = dx + n * g.ih * g.iw * g.ci;
    for (int64_t oh = 0; oh < g.oh; oh++) {
      for (int64_t ow = 0; ow < g.ow; ow++) {
        for (int64_t kh = 0; kh < g.fh; kh++) {
          int64_t ih = oh * g.sh + kh - g.pt;
          if (ih < 0 || ih >= g.ih) {
            cols += g.fw * g.ci;
            continue;
          }
          const int64_t iw0 = ow * g.sw - g.pl;
          if (iw0 >= 0 && iw0 + g.fw <= g.iw) { /* whole row inside the image: one contiguous run */
            float *d = xn + (ih * g.iw + iw0) * g.ci;
            const int64_t run = g.fw * g.ci;
            for (int64_t i = 0; i < run; i++) d[i] += cols[i];
            cols += run;
            continue;
          }
          for (int64_t kw = 0; kw < g.fw; kw++) {
            int64_t iw = iw0 + kw;
            if (iw >= 0 && iw < g.iw) {
              float *d = xn + (ih * g.iw + iw) * g.ci;
              for (int64_t i = 0; i < g.ci; i++) d[i] += cols[i];
            }
            cols += g.ci;
          }
        }
      }
    }
  }
}

/* The arguments of most kernels: (heap, `n_ints` int64s that must be >= 0, then `n_doubles` doubles), exactly that
 * many. Fills heap/count and the two arrays; false on any mismatch (the caller throws its own message). */
static bool heap_args(napi_env env, napi_callback_info info, int n_ints, int64_t *ints, int n_doubles, double *doubles,
                      float **heap, size_t *count) {
  napi_value argv[16];
  size_t argc = 16;
  const size_t want = (size_t)(1 + n_ints + n_doubles);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) return false;
  *heap = heap_floats(env, argv[0], count);
  if (*heap == NULL) return false;
  for (int i = 0; i < n_ints; i++) {
    if (napi_get_value_int64(env, argv[1 + i], &ints[i]) != napi_ok || ints[i] < 0) return false;
  }
  for (int i = 0; i < n_doubles; i++) {
    if (napi_get_value_double(env, argv[1 + n_ints + i], &doubles[i]) != napi_ok) return false;
  }
  return true;
}

/* sumRows(heap, x, out, rows, inner): out[j] = sum over r of x[r * inner + j] (the bias gradient of a dense or
 * convolution layer: dy summed over batch and spatial positions), accumulated in double like the cpu backend. */
static napi_value SumRows(napi_env env, napi_callback_info info) {
  size_t count = 0;
  int64_t v[4];
  float *heap = NULL;
  bool ok = heap_args(env, info, 4, v, 0, NULL, &heap, &count);
  int64_t xo = ok ? v[0] : 0, oo = ok ? v[1] : 0, rows = ok ? v[2] : 0, inner = ok ? v[3] : 0;
  if (!ok || inner > 65536 || xo + rows * inner > (int64_t)count || oo + inner > (int64_t)count) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.sumRows: bad arguments or operand outside the heap");
    return NULL;
  }
  static double acc[65536]; /* static: too large for the stack; the addon runs on one JS thread */
  for (int64_t j = 0; j < inner; j++) acc[j] = 0;
  const float *x = heap + xo;
  for (int64_t r = 0; r < rows; r++, x += inner) {
    for (int64_t j = 0; j < inner; j++) acc[j] += x[j];
  }
  float *out = heap + oo;
  for (int64_t j = 0; j < inner; j++) out[j] = (float)acc[j];
  return NULL;
}

/* Shared arguments of maxPool / maxPoolGrad: (heap, three offsets, geometry), plus the float counts of the input
 * images and of the pooled output. The offsets are checked by the caller against the sizes it needs; the geometry is
 * bounded so that window positions fit in int32. */
static bool pool_args(napi_env env, napi_callback_info info, float **heap, size_t *count, int64_t off[3], Geometry *g,
                      int64_t *image, int64_t *outs) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) return false;
  *heap = heap_floats(env, argv[0], count);
  if (*heap == NULL) return false;
  for (int i = 0; i < 3; i++) {
    if (napi_get_value_int64(env, argv[1 + i], &off[i]) != napi_ok) return false;
  }
  if (!tuneserve_read_geometry(env, argv[4], g) || g->n * g->ih * g->iw * g->ci > INT32_MAX || g->ci > 4096) return false;
  *image = g->n * g->ih * g->iw * g->ci;
  *outs = g->n * g->oh * g->ow * g->ci;
  return true;
}

typedef struct {
  const float *x;
  float *y;
  int32_t *argmax; /* NULL: not recorded */
  const Geometry *g;
} PoolJob;

/* Images [lo, hi) of a max pool. */
static void max_pool_images(void *ctx, int64_t lo, int64_t hi) {
  const PoolJob *job = (const PoolJob *)ctx;
  const Geometry g = *job->g;
  const float *x = job->x;
  float *y = job->y;
  int32_t *am = job->argmax;
  float best[4096];
  int32_t at[4096];
  for (int64_t n = lo; n < hi; n++) {
    const int64_t xn = n * g.ih * g.iw * g.ci;
    for (int64_t oh = 0; oh < g.oh; oh++) {
      int64_t h0 = oh * g.sh - g.pt, hs = h0 < 0 ? 0 : h0, he = h0 + g.fh > g.ih ? g.ih : h0 + g.fh;
      for (int64_t ow = 0; ow < g.ow; ow++) {
        int64_t w0 = ow * g.sw - g.pl, ws = w0 < 0 ? 0 : w0, we = w0 + g.fw > g.iw ? g.iw : w0 + g.fw;
        const int64_t o = ((n * g.oh + oh) * g.ow + ow) * g.ci;
        if (hs >= he || ws >= we) {
          for (int64_t c = 0; c < g.ci; c++) y[o + c] = 0;
          if (am) for (int64_t c = 0; c < g.ci; c++) am[o + c] = -1;
          continue;
        }
        const int32_t first = (int32_t)(xn + (hs * g.iw + ws) * g.ci);
        for (int64_t c = 0; c < g.ci; c++) {
          best[c] = x[first + c];
          at[c] = first + (int32_t)c;
        }
        for (int64_t h = hs; h < he; h++) {
          for (int64_t w = (h == hs ? ws + 1 : ws); w < we; w++) {
            const int32_t off = (int32_t)(xn + (h * g.iw + w) * g.ci);
            const float *xv = x + off;
            /* mask form, as in maxPoolGrad, so it vectorizes; strict > keeps the first maximum */
            for (int64_t c = 0; c < g.ci; c++) {
              const float v = xv[c], b = best[c];
              const int32_t better = -(int32_t)(v > b);
              best[c] = v > b ? v : b;
              at[c] ^= (at[c] ^ (off + (int32_t)c)) & better;
            }
          }
        }
        for (int64_t c = 0; c < g.ci; c++) y[o + c] = best[c];
        if (am) for (int64_t c = 0; c < g.ci; c++) am[o + c] = at[c];
      }
    }
  }
}

/* maxPool(heap, x, y, argmax, geometry): y = each window's maximum; when argmax >= 0 it also receives, as int32, the
 * offset (from x's first element) of the window's first maximum, or -1 for a window wholly in the padding, so the
 * gradient is a scatter instead of a second search. Pass argmax = -1 to skip it (inference). */
static napi_value MaxPool(napi_env env, napi_callback_info info) {
  float *heap = NULL;
  size_t count = 0;
  int64_t o[3] = {0, 0, 0};
  Geometry g;
  int64_t image = 0, outs = 0;
  bool ok = pool_args(env, info, &heap, &count, o, &g, &image, &outs);
  const int64_t xo = o[0], yo = o[1], ao = o[2];
  if (!ok || xo < 0 || yo < 0 || ao < -1 || xo + image > (int64_t)count || yo + outs > (int64_t)count ||
      ao + outs > (int64_t)count) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.maxPool: bad arguments or operand outside the heap");
    return NULL;
  }
  PoolJob job = {heap + xo, heap + yo, ao >= 0 ? (int32_t *)(heap + ao) : NULL, &g};
  tuneserve_parallel(max_pool_images, &job, g.n, tuneserve_chunks(image, LARGE_COPY));
  return NULL;
}

/* scatterAdd(heap, dy, index, dx, n, size, images): dx (size floats, zeroed first) += dy[i] at index[i] for i < n;
 * the gradient of a max pool whose forward pass recorded its argmax. dy and dx hold `images` equal parts, and image
 * b's gradients only ever land in image b's part of dx: that is what lets images run in parallel; an index outside
 * its own image (or negative) is skipped. */
typedef struct {
  const float *dy;
  const int32_t *index;
  float *dx;
  int64_t per_dy, per_dx;
} ScatterJob;

static void scatter_images(void *ctx, int64_t lo, int64_t hi) {
  const ScatterJob *job = (const ScatterJob *)ctx;
  const int64_t first = lo * job->per_dx, end = hi * job->per_dx;
  memset(job->dx + first, 0, sizeof(float) * (end - first));
  for (int64_t i = lo * job->per_dy; i < hi * job->per_dy; i++) {
    const int32_t j = job->index[i];
    if (j >= first && j < end) job->dx[j] += job->dy[i];
  }
}

static napi_value ScatterAdd(napi_env env, napi_callback_info info) {
  size_t count = 0;
  int64_t o[6];
  float *heap = NULL;
  bool ok = heap_args(env, info, 6, o, 0, NULL, &heap, &count);
  const int64_t n = ok ? o[3] : 0, size = ok ? o[4] : 0, images = ok ? o[5] : 0;
  if (!ok || images < 1 || n % images != 0 || size % images != 0 || size > INT32_MAX || o[0] + n > (int64_t)count ||
      o[1] + n > (int64_t)count || o[2] + size > (int64_t)count) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.scatterAdd: bad arguments or operand outside the heap");
    return NULL;
  }
  ScatterJob job = {heap + o[0], (const int32_t *)(heap + o[1]), heap + o[2], n / images, size / images};
  tuneserve_parallel(scatter_images, &job, images, tuneserve_chunks(size, LARGE_COPY));
  return NULL;
}

/* maxPoolGrad(heap, x, dy, dx, geometry): geometry as im2col with fh/fw = pool size; dy is [n, oh, ow, c]. Each
 * output gradient goes to the first maximum of its window (the cpu backend's rule): the windows are searched as the
 * forward pass does (when its recorded argmax is not available), then the gradients are scattered. */
static napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  float *heap = NULL;
  size_t count = 0;
  int64_t o[3] = {0, 0, 0};
  Geometry g;
  int64_t image = 0, outs = 0;
  bool ok = pool_args(env, info, &heap, &count, o, &g, &image, &outs);
  if (!ok || o[0] < 0 || o[1] < 0 || o[2] < 0 || o[0] + image > (int64_t)count || o[2] + image > (int64_t)count ||
      o[1] + outs > (int64_t)count) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.maxPoolGrad: bad arguments or operand outside the heap");
    return NULL;
  }
  float *y = malloc(sizeof(float) * (outs > 0 ? outs : 1));
  int32_t *argmax = malloc(sizeof(int32_t) * (outs > 0 ? outs : 1));
  if (y == NULL || argmax == NULL) {
    free(y);
    free(argmax);
    napi_throw_error(env, NULL, "tuneserve_blas.maxPoolGrad: out of memory");
    return NULL;
  }
  PoolJob pool = {heap + o[0], y, argmax, &g};
  tuneserve_parallel(max_pool_images, &pool, g.n, tuneserve_chunks(image, LARGE_COPY));
  ScatterJob scatter = {heap + o[1], argmax, heap + o[2], g.oh * g.ow * g.ci, g.ih * g.iw * g.ci};
  tuneserve_parallel(scatter_images, &scatter, g.n, tuneserve_chunks(image, LARGE_COPY));
  free(y);
  free(argmax);
  return NULL;
}

/* Operands of the two elementwise kernels below: out = f(a, b); `inner` is the bias length for addBias. */
typedef struct {
  const float *a, *b;
  float *out;
  int64_t inner;
} Elementwise;

static void add_bias_rows(void *ctx, int64_t lo, int64_t hi) {
  const Elementwise *e = (const Elementwise *)ctx;
  for (int64_t r = lo; r < hi; r++) {
    const float *x = e->a + r * e->inner;
    float *out = e->out + r * e->inner;
    for (int64_t j = 0; j < e->inner; j++) out[j] = x[j] + e->b[j];
  }
}

/* dx = dy * step(x) over [lo, hi): a = dy, b = x. Branch-free so it vectorizes (a select on dy stayed a branch,
 * mispredicted on half the elements). */
static void relu_grad_range(void *ctx, int64_t lo, int64_t hi) {
  const Elementwise *e = (const Elementwise *)ctx;
  for (int64_t i = lo; i < hi; i++) {
    const float xi = e->b[i];
    const float step = xi > 0.0f ? 1.0f : (xi != xi ? xi : 0.0f);
    e->out[i] = e->a[i] * step;
  }
}

/* addBias(heap, x, bias, out, rows, inner): out[r, j] = x[r, j] + bias[j] (a layer's bias over batch and space). */
static napi_value AddBias(napi_env env, napi_callback_info info) {
  size_t count = 0;
  int64_t o[5];
  float *heap = NULL;
  bool ok = heap_args(env, info, 5, o, 0, NULL, &heap, &count);
  const int64_t rows = ok ? o[3] : 0, inner = ok ? o[4] : 0;
  if (!ok || o[0] + rows * inner > (int64_t)count || o[1] + inner > (int64_t)count ||
      o[2] + rows * inner > (int64_t)count) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.addBias: bad arguments or operand outside the heap");
    return NULL;
  }
  Elementwise job = {heap + o[0], heap + o[1], heap + o[2], inner};
  tuneserve_parallel(add_bias_rows, &job, rows, tuneserve_chunks(rows * inner, LARGE_COPY));
  return NULL;
}

/* reluGrad(heap, dy, x, dx, n): dx = dy * step(x), the stock gradient's Step and Multiply in one pass (step is 1 for
 * x > 0, NaN for NaN, else 0; multiplying rather than selecting keeps its NaN/Inf results). */
static napi_value ReluGrad(napi_env env, napi_callback_info info) {
  size_t count = 0;
  int64_t o[4];
  float *heap = NULL;
  bool ok = heap_args(env, info, 4, o, 0, NULL, &heap, &count);
  const int64_t n = ok ? o[3] : 0;
  if (!ok || o[0] + n > (int64_t)count || o[1] + n > (int64_t)count || o[2] + n > (int64_t)count) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.reluGrad: bad arguments or operand outside the heap");
    return NULL;
  }
  Elementwise job = {heap + o[0], heap + o[1], heap + o[2], 0};
  tuneserve_parallel(relu_grad_range, &job, n, tuneserve_chunks(n, LARGE_COPY));
  return NULL;
}

/* The relu gradient and the bias gradient of a convolution in one pass: each part of the rows computes its dx rows
 * and sums them per channel into its own double accumulator; the parts are added in order afterwards. */
typedef struct {
  const float *dy, *y;
  float *dx;
  double *acc; /* parts x inner */
  int64_t rows, inner, part_rows;
} ReluGradSumJob;

static void relu_grad_sum_parts(void *ctx, int64_t lo, int64_t hi) {
  const ReluGradSumJob *job = (const ReluGradSumJob *)ctx;
  const int64_t inner = job->inner;
  for (int64_t part = lo; part < hi; part++) {
    double *acc = job->acc + part * inner;
    for (int64_t j = 0; j < inner; j++) acc[j] = 0;
    const int64_t r0 = part * job->part_rows;
    const int64_t r1 = r0 + job->part_rows < job->rows ? r0 + job->part_rows : job->rows;
    for (int64_t r = r0; r < r1; r++) {
      const float *dy = job->dy + r * inner;
      const float *y = job->y + r * inner;
      float *dx = job->dx + r * inner;
      for (int64_t j = 0; j < inner; j++) {
        const float yj = y[j];
        const float step = yj > 0.0f ? 1.0f : (yj != yj ? yj : 0.0f);
        dx[j] = dy[j] * step;
        acc[j] += dx[j];
      }
    }
  }
}

/* reluGradSum(heap, dy, y, dx, sums, rows, inner): dx = dy * step(y) (as reluGrad) and sums[j] = sum over rows of
 * dx[r, j] (as sumRows, in double): the relu and bias gradients of a fused convolution read dy once instead of twice. */
static napi_value ReluGradSum(napi_env env, napi_callback_info info) {
  size_t count = 0;
  int64_t o[6];
  float *heap = NULL;
  bool ok = heap_args(env, info, 6, o, 0, NULL, &heap, &count);
  const int64_t rows = ok ? o[4] : 0, inner = ok ? o[5] : 0;
  const int64_t n = rows * inner;
  if (!ok || inner < 1 || inner > 65536 || o[0] + n > (int64_t)count || o[1] + n > (int64_t)count ||
      o[2] + n > (int64_t)count || o[3] + inner > (int64_t)count) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.reluGradSum: bad arguments or operand outside the heap");
    return NULL;
  }
  int64_t parts = tuneserve_chunks(n, LARGE_COPY);
  if (parts > rows) parts = rows < 1 ? 1 : (int)rows;
  double *acc = (double *)malloc(sizeof(double) * (size_t)parts * (size_t)inner);
  if (acc == NULL) {
    napi_throw_error(env, NULL, "tuneserve_blas.reluGradSum: out of memory");
    return NULL;
  }
  ReluGradSumJob job = {heap + o[0], heap + o[1], heap + o[2], acc, rows, inner, (rows + parts - 1) / parts};
  tuneserve_parallel(relu_grad_sum_parts, &job, parts, parts);
  float *sums = heap + o[3];
  for (int64_t j = 0; j < inner; j++) {
    double total = 0;
    for (int p = 0; p < parts; p++) total += acc[(int64_t)p * inner + j];
    sums[j] = (float)total;
  }
  free(acc);
  return NULL;
}

/* rmsprop(heap, n, out, value, grad, meanSquare, moment, lr, decay, momentum, epsilon): one optimizer step over n
 * floats in float32 arithmetic like TF.js's kernels; the state slots are updated in place, the new value goes to
 * `out` (never the weight's own buffer). */
static napi_value Rmsprop(napi_env env, napi_callback_info info) {
  size_t count = 0;
  int64_t o[6];
  double h[4];
  float *heap = NULL;
  bool ok = heap_args(env, info, 6, o, 4, h, &heap, &count);
  for (int i = 1; ok && i < 6; i++) ok = o[i] + o[0] <= (int64_t)count;
  if (!ok) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.rmsprop: bad arguments or operand outside the heap");
    return NULL;
  }
  const int64_t n = o[0];
  float *out = heap + o[1], *s = heap + o[4], *m = heap + o[5];
  const float *v = heap + o[2], *g = heap + o[3];
  const float lr = (float)h[0], decay = (float)h[1], keep = 1.0f - (float)h[1], momentum = (float)h[2], eps = (float)h[3];
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float si = decay * s[i] + keep * (gi * gi);
    s[i] = si;
    const float mi = momentum * m[i] + (lr * gi) / sqrtf(si + eps);
    m[i] = mi;
    out[i] = v[i] - mi;
  }
  return NULL;
}

/* adam(heap, n, out, value, grad, m, v, lr, beta1, beta2, epsilon, 1 - beta1^t, 1 - beta2^t) */
static napi_value Adam(napi_env env, napi_callback_info info) {
  size_t count = 0;
  int64_t o[6];
  double h[6];
  float *heap = NULL;
  bool ok = heap_args(env, info, 6, o, 6, h, &heap, &count);
  for (int i = 1; ok && i < 6; i++) ok = o[i] + o[0] <= (int64_t)count;
  if (!ok) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.adam: bad arguments or operand outside the heap");
    return NULL;
  }
  const int64_t n = o[0];
  float *out = heap + o[1], *a = heap + o[4], *b = heap + o[5];
  const float *v = heap + o[2], *g = heap + o[3];
  const float lr = (float)h[0], b1 = (float)h[1], b2 = (float)h[2], eps = (float)h[3], c1 = (float)h[4], c2 = (float)h[5];
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float ai = b1 * a[i] + (1.0f - b1) * gi;
    const float bi = b2 * b[i] + (1.0f - b2) * (gi * gi);
    a[i] = ai;
    b[i] = bi;
    out[i] = v[i] - (lr * (ai / c1)) / (sqrtf(bi / c2) + eps);
  }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc == 1) CHECK(napi_get_value_int32(env, argv[0], &n));
  tuneserve_set_threads(n);
  return NULL;
}

/* Fused convolution kernels. Per band of images, the band's window matrix stays in cache between the im2col that
 * writes it and the product that reads it (forward), or between the product that writes it and the col2im that
 * scatters it (input gradient): the unfused kernels wrote and re-read the whole [P, K] matrix through memory (~18 MB
 * for the reference CNN's second layer). Bands are split across threads by image; each band is one single-threaded
 * sgemm. */
#define BAND_FLOATS (128 * 1024) /* window-matrix floats per band: 512 KB, inside L2 */

typedef struct {
  const Geometry *g;
  float *image;   /* forward: x; input gradient: dx */
  float *cols;    /* forward: where the window matrix is kept for the filter gradient (NULL: band scratch) */
  const float *w; /* the filter as [K, co] */
  float *out;     /* forward: y [P, co]; input gradient: dy [P, co] */
  int64_t co;
  const float *bias; /* forward: added to every output row (NULL: none) */
  bool relu;         /* forward: max(0, .) after the bias */
  bool failed;       /* a band scratch could not be allocated */
} ConvJob;

static int64_t band_images(const Geometry *g) {
  const int64_t per = g->oh * g->ow * g->fh * g->fw * g->ci;
  const int64_t b = BAND_FLOATS / (per > 0 ? per : 1);
  return b < 1 ? 1 : b;
}

static void conv_forward_images(void *ctx, int64_t lo, int64_t hi) {
  ConvJob *j = (ConvJob *)ctx;
  const Geometry *g = j->g;
  const int64_t p = g->oh * g->ow, k = g->fh * g->fw * g->ci, step = band_images(g);
  float *scratch = j->cols ? NULL : tuneserve_scratch(step * p * k);
  if (!j->cols && !scratch) {
    j->failed = true;
    return;
  }
  for (int64_t n = lo; n < hi; n += step) {
    const int64_t e = n + step < hi ? n + step : hi;
    float *cols = j->cols ? j->cols + n * p * k : scratch;
    im2col_block(j->image, cols, g, n, e);
    float *y = j->out + n * p * j->co;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)((e - n) * p), (int)j->co, (int)k, 1.0f, cols, (int)k,
                j->w, (int)j->co, 0.0f, y, (int)j->co);
    if (j->bias || j->relu) { /* the epilogue while the band's output is still in cache */
      const int64_t rows = (e - n) * p, co = j->co;
      for (int64_t r = 0; r < rows; r++, y += co) {
        if (j->bias)
          for (int64_t c = 0; c < co; c++) y[c] += j->bias[c];
        if (j->relu)
          for (int64_t c = 0; c < co; c++) y[c] = y[c] > 0.0f ? y[c] : 0.0f;
      }
    }
  }
}

/* Images [lo, hi) by the direct convolution (no window matrix): 2-4x less CPU than im2col + OpenBLAS for these
 * layers, most for a first layer (K = 9). Used whenever the window matrix need not be kept. */
static void conv_direct_images(void *ctx, int64_t lo, int64_t hi) {
  ConvJob *j = (ConvJob *)ctx;
  const int64_t pad = tuneserve_direct_conv_scratch(j->g);
  float *scratch = pad > 0 ? tuneserve_scratch(pad) : NULL;
  if (pad > 0 && !scratch) {
    j->failed = true;
    return;
  }
  tuneserve_direct_conv_images(j->image, j->w, j->bias, j->out, j->g, j->co, j->relu, lo, hi, scratch);
}

static void conv_input_grad_images(void *ctx, int64_t lo, int64_t hi) {
  ConvJob *j = (ConvJob *)ctx;
  const Geometry *g = j->g;
  const int64_t p = g->oh * g->ow, k = g->fh * g->fw * g->ci, step = band_images(g);
  float *scratch = tuneserve_scratch(step * p * k);
  if (!scratch) {
    j->failed = true;
    return;
  }
  for (int64_t n = lo; n < hi; n += step) {
    const int64_t e = n + step < hi ? n + step : hi;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)((e - n) * p), (int)k, (int)j->co, 1.0f,
                j->out + n * p * j->co, (int)j->co, j->w, (int)j->co, 0.0f, scratch, (int)k);
    col2im_block(j->image, scratch, g, n, e);
  }
}

/* Shared arguments: (heap, image, w, out, cols or -1, geometry, co, bias or -1, relu); extents checked against the
 * heap. */
static bool conv_fused_args(napi_env env, napi_callback_info info, ConvJob *job, Geometry *g) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 9) return false;
  size_t count = 0;
  float *heap = heap_floats(env, argv[0], &count);
  if (heap == NULL) return false;
  int64_t off[4], co;
  for (int i = 0; i < 4; i++) {
    if (napi_get_value_int64(env, argv[1 + i], &off[i]) != napi_ok) return false;
  }
  int64_t bias;
  bool relu;
  if (!tuneserve_read_geometry(env, argv[5], g) || napi_get_value_int64(env, argv[6], &co) != napi_ok || co < 1 ||
      napi_get_value_int64(env, argv[7], &bias) != napi_ok || napi_get_value_bool(env, argv[8], &relu) != napi_ok) {
    return false;
  }
  const int64_t image = g->n * g->ih * g->iw * g->ci, p = g->n * g->oh * g->ow, k = g->fh * g->fw * g->ci;
  const int64_t n = (int64_t)count;
  if (off[0] < 0 || off[0] + image > n || off[1] < 0 || off[1] + k * co > n || off[2] < 0 || off[2] + p * co > n ||
      (off[3] >= 0 && off[3] + p * k > n) || (bias >= 0 && bias + co > n) || p * k > INT32_MAX || p * co > INT32_MAX) {
    return false;
  }
  *job = (ConvJob){g,  heap + off[0], off[3] >= 0 ? heap + off[3] : NULL, heap + off[1], heap + off[2], co,
                   bias >= 0 ? heap + bias : NULL, relu, false};
  return true;
}

static void run_conv(ConvJob *job, RangeFn fn) {
  openblas_one_thread();
  const Geometry *g = job->g;
  const int64_t macs = g->n * g->oh * g->ow * g->fh * g->fw * g->ci * job->co;
  tuneserve_parallel(fn, job, g->n, tuneserve_chunks(macs, LARGE_GEMM));
}

/* conv2d(heap, x, w, y, cols | -1, geometry, co, bias | -1, relu): y[P, co] = im2col(x) @ w (+ bias, relu), keeping the
 * window matrix when cols >= 0. */
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  ConvJob job;
  Geometry g;
  if (!conv_fused_args(env, info, &job, &g)) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.conv2d: bad arguments or operand outside the heap");
    return NULL;
  }
  if (job.cols == NULL && tuneserve_direct_conv_fast(&g, job.co)) {
    run_conv(&job, conv_direct_images);
  } else {
    run_conv(&job, conv_forward_images);
  }
  if (job.failed) napi_throw_error(env, NULL, "tuneserve_blas.conv2d: out of memory for a band");
  return NULL;
}

/* conv2dInputGrad(heap, dx, w, dy, -1, geometry, co, -1, false): dx = col2im(dy @ w^T). */
static napi_value Conv2dInputGrad(napi_env env, napi_callback_info info) {
  ConvJob job;
  Geometry g;
  if (!conv_fused_args(env, info, &job, &g) || job.cols != NULL || job.bias != NULL || job.relu) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.conv2dInputGrad: bad arguments or operand outside the heap");
    return NULL;
  }
  /* Stride 1: dx is the direct convolution of dy, padded by (filter - 1 - pad), with the filter turned half a turn
   * and its channel axes swapped: W'[a, b, o, i] = W[fh-1-a, fw-1-b, i, o]. */
  const Geometry t = {g.n, g.oh, g.ow, job.co, g.ih, g.iw, g.fh, g.fw, 1, 1, g.fh - 1 - g.pt, g.fw - 1 - g.pl};
  if (g.sh == 1 && g.sw == 1 && tuneserve_direct_conv_fast(&t, g.ci)) {
    const int64_t taps = g.fh * g.fw, ci = g.ci, co = job.co;
    float *turned = (float *)malloc(sizeof(float) * (size_t)(taps * ci * co));
    if (turned == NULL) {
      napi_throw_error(env, NULL, "tuneserve_blas.conv2dInputGrad: out of memory");
      return NULL;
    }
    for (int64_t tap = 0; tap < taps; tap++) {
      const float *src = job.w + (taps - 1 - tap) * ci * co;
      float *dst = turned + tap * co * ci;
      for (int64_t i = 0; i < ci; i++)
        for (int64_t o = 0; o < co; o++) dst[o * ci + i] = src[i * co + o];
    }
    ConvJob direct = {&t, job.out, NULL, turned, job.image, ci, NULL, false, false};
    run_conv(&direct, conv_direct_images);
    free(turned);
    if (direct.failed) napi_throw_error(env, NULL, "tuneserve_blas.conv2dInputGrad: out of memory for a band");
    return NULL;
  }
  run_conv(&job, conv_input_grad_images);
  if (job.failed) napi_throw_error(env, NULL, "tuneserve_blas.conv2dInputGrad: out of memory for a band");
  return NULL;
}

/* The filter gradient dW[K, co] = sum over images of cols^T @ dy, part by part of the images: each part lays out one
 * band of windows at a time in cache and adds its product into the part's own dW, and the parts are added in order
 * afterwards (the same result whichever thread ran which part). The whole [P, K] window matrix never goes through
 * memory, and the forward pass need not keep it. */
typedef struct {
  ConvJob *conv;
  float *partial; /* parts x K x co */
  int64_t parts;
} FilterGradJob;

static void conv_filter_grad_parts(void *ctx, int64_t lo, int64_t hi) {
  FilterGradJob *f = (FilterGradJob *)ctx;
  ConvJob *j = f->conv;
  const Geometry *g = j->g;
  const int64_t p = g->oh * g->ow, k = g->fh * g->fw * g->ci, step = band_images(g);
  float *scratch = tuneserve_scratch(step * p * k + TUNESERVE_FGRAD_PAD);
  if (!scratch) {
    j->failed = true;
    return;
  }
  const bool direct = tuneserve_filter_grad_fits(j->co);
  for (int64_t part = lo; part < hi; part++) {
    float *dw = f->partial + part * k * j->co;
    const int64_t first = g->n * part / f->parts, end = g->n * (part + 1) / f->parts;
    if (first == end || direct) memset(dw, 0, sizeof(float) * (size_t)(k * j->co));
    for (int64_t n = first; direct && n < end; n += step) {
      const int64_t e = n + step < end ? n + step : end;
      im2col_block(j->image, scratch, g, n, e);
      tuneserve_filter_grad_rows(scratch, k, j->out + n * p * j->co, j->co, (e - n) * p, dw);
    }
    for (int64_t n = first; !direct && n < end; n += step) {
      const int64_t e = n + step < end ? n + step : end;
      im2col_block(j->image, scratch, g, n, e);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)j->co, (int)((e - n) * p), 1.0f, scratch,
                  (int)k, j->out + n * p * j->co, (int)j->co, n == first ? 0.0f : 1.0f, dw, (int)j->co);
    }
  }
}

/* conv2dFilterGrad(heap, x, dw, dy, -1, geometry, co, -1, false): dw[K, co] = im2col(x)^T @ dy[P, co]. */
static napi_value Conv2dFilterGrad(napi_env env, napi_callback_info info) {
  ConvJob job;
  Geometry g;
  if (!conv_fused_args(env, info, &job, &g) || job.cols != NULL || job.bias != NULL || job.relu) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.conv2dFilterGrad: bad arguments or operand outside the heap");
    return NULL;
  }
  openblas_one_thread();
  const int64_t k = g.fh * g.fw * g.ci, co = job.co;
  float *dw = (float *)job.w; /* the output here: conv_fused_args checked its K x co extent like a filter's */
  int64_t parts = tuneserve_chunks(g.n * g.oh * g.ow * k * co, LARGE_GEMM);
  if (parts > g.n) parts = g.n < 1 ? 1 : g.n;
  FilterGradJob f = {&job, parts > 1 ? (float *)malloc(sizeof(float) * (size_t)(parts * k * co)) : dw, parts};
  if (f.partial == NULL) {
    napi_throw_error(env, NULL, "tuneserve_blas.conv2dFilterGrad: out of memory");
    return NULL;
  }
  if (g.n == 0) memset(dw, 0, sizeof(float) * (size_t)(k * co));
  else tuneserve_parallel(conv_filter_grad_parts, &f, parts, parts);
  if (parts > 1) {
    for (int64_t i = 0; i < k * co; i++) {
      float sum = f.partial[i];
      for (int64_t part = 1; part < parts; part++) sum += f.partial[part * k * co + i];
      dw[i] = sum;
    }
    free(f.partial);
  }
  if (job.failed) napi_throw_error(env, NULL, "tuneserve_blas.conv2dFilterGrad: out of memory for a band");
  return NULL;
}

/* dropoutMask(heap, out, n, threshold, scale, seed): out[i] = scale when draw i is >= threshold, else 0. The draws
 * come in blocks of MASK_BLOCK elements; element j of block b is the (j / MASK_LANES)-th draw of the xoshiro128**
 * stream number b * MASK_LANES + j % MASK_LANES, seeded by splitmix32 from seed + that number * MASK_STREAM_STEP. The
 * same streams as the JavaScript fallback (user-api.ts), so a seed gives the same mask with or without the addon. One
 * stream is a chain of dependent operations: MASK_LANES of them side by side fill a vector's lanes, and blocks are
 * split across threads. */
#define MASK_BLOCK 4096
#define MASK_LANES 8
#define MASK_STREAM_STEP 0x632be5abu

typedef uint32_t MaskLanes __attribute__((vector_size(MASK_LANES * 4)));

static uint32_t splitmix32(uint32_t *state) {
  uint32_t z = (*state += 0x9e3779b9u);
  z = (z ^ (z >> 16)) * 0x85ebca6bu;
  z = (z ^ (z >> 13)) * 0xc2b2ae35u;
  return z ^ (z >> 16);
}

typedef struct {
  float *out;
  int64_t n;
  uint32_t threshold, seed;
  float scale;
} MaskJob;

static void mask_blocks(void *ctx, int64_t lo, int64_t hi) {
  const MaskJob *job = (const MaskJob *)ctx;
  uint32_t scale_bits;
  memcpy(&scale_bits, &job->scale, sizeof scale_bits);
  const MaskLanes cut = (MaskLanes){0} + job->threshold, bits = (MaskLanes){0} + scale_bits;
  for (int64_t block = lo; block < hi; block++) {
    MaskLanes a, b, c, e;
    for (int l = 0; l < MASK_LANES; l++) {
      uint32_t st = job->seed + (uint32_t)(block * MASK_LANES + l) * MASK_STREAM_STEP;
      a[l] = splitmix32(&st);
      b[l] = splitmix32(&st);
      c[l] = splitmix32(&st);
      e[l] = splitmix32(&st);
      if ((a[l] | b[l] | c[l] | e[l]) == 0) a[l] = 1;
    }
    const int64_t start = block * MASK_BLOCK;
    const int64_t len = job->n - start < MASK_BLOCK ? job->n - start : MASK_BLOCK;
    float *out = job->out + start;
    for (int64_t i = 0; i < len; i += MASK_LANES) {
      const MaskLanes x = (b << 2) + b;         /* b * 5 */
      const MaskLanes y = (x << 7) | (x >> 25); /* rotl(., 7) */
      const MaskLanes r = (y << 3) + y;         /* * 9 */
      const MaskLanes t = b << 9;
      c ^= a;
      e ^= b;
      b ^= c;
      a ^= e;
      c ^= t;
      e = (e << 11) | (e >> 21);
      const MaskLanes v = (MaskLanes)(r >= cut) & bits;
      if (i + MASK_LANES <= len) {
        memcpy(out + i, &v, sizeof v);
      } else {
        for (int64_t l = 0; i + l < len; l++) memcpy(out + i + l, (const uint32_t *)&v + l, sizeof(float));
      }
    }
  }
}

static napi_value DropoutMask(napi_env env, napi_callback_info info) {
  size_t count = 0;
  int64_t v[2];
  double d[3];
  float *heap = NULL;
  bool ok = heap_args(env, info, 2, v, 3, d, &heap, &count);
  if (!ok || v[0] + v[1] > (int64_t)count || d[0] < 0 || d[0] > 4294967295.0) {
    napi_throw_range_error(env, NULL, "tuneserve_blas.dropoutMask: bad arguments or operand outside the heap");
    return NULL;
  }
  MaskJob job = {heap + v[0], v[1], (uint32_t)d[0], (uint32_t)(int64_t)d[2], (float)d[1]};
  tuneserve_parallel(mask_blocks, &job, (job.n + MASK_BLOCK - 1) / MASK_BLOCK, tuneserve_chunks(job.n, LARGE_COPY));
  return NULL;
}

/* blasCore(): the kernel set OpenBLAS picked for this CPU at load ("Haswell", "SkylakeX", ...). */
static napi_value BlasCore(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  if (napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &out) != napi_ok) return NULL;
  return out;
}

napi_value tuneserve_inference_init(napi_env env, napi_value exports); /* tuneserve_infer.c */

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"im2col", NULL, Im2col, NULL, NULL, NULL, napi_default, NULL},
      {"col2im", NULL, Col2im, NULL, NULL, NULL, napi_default, NULL},
      {"maxPoolGrad", NULL, MaxPoolGrad, NULL, NULL, NULL, napi_default, NULL},
      {"rmsprop", NULL, Rmsprop, NULL, NULL, NULL, napi_default, NULL},
      {"adam", NULL, Adam, NULL, NULL, NULL, napi_default, NULL},
      {"sumRows", NULL, SumRows, NULL, NULL, NULL, napi_default, NULL},
      {"maxPool", NULL, MaxPool, NULL, NULL, NULL, napi_default, NULL},
      {"scatterAdd", NULL, ScatterAdd, NULL, NULL, NULL, napi_default, NULL},
      {"addBias", NULL, AddBias, NULL, NULL, NULL, napi_default, NULL},
      {"reluGrad", NULL, ReluGrad, NULL, NULL, NULL, napi_default, NULL},
      {"reluGradSum", NULL, ReluGradSum, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_default, NULL},
      {"conv2dInputGrad", NULL, Conv2dInputGrad, NULL, NULL, NULL, napi_default, NULL},
      {"conv2dFilterGrad", NULL, Conv2dFilterGrad, NULL, NULL, NULL, napi_default, NULL},
      {"dropoutMask", NULL, DropoutMask, NULL, NULL, NULL, napi_default, NULL},
      {"blasCore", NULL, BlasCore, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return tuneserve_inference_init(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
