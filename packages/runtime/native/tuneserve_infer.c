/*
 * Inference kernels for the host conv plan (packages/runtime/src/inference/conv-plan.ts): a direct convolution with
 * bias and relu, and max pooling, on NHWC images in a plain Float32Array, always on the calling thread (a server
 * overlaps requests itself).
 *
 * Why not im2col + sgemm as in training: serving batches are small and the first layer of a CNN has few input
 * channels, so the window matrix costs more to build than the product (K = 9 for a 3x3 filter on one channel), and
 * OpenBLAS's packing dominates such thin products. Here each block of R output pixels along a row keeps R x NV
 * vectors of output channels in registers while it walks the filter taps, broadcasting one input value per pixel and
 * loading the filter row once for the R pixels. The kernels (tuneserve_infer_kernels.h) are compiled for AVX-512
 * (16 floats a vector), AVX2 + FMA (8) and the baseline (4), and the widest the CPU runs is chosen at load time, so
 * the addon stays portable.
 *
 * Geometry (Int32Array of 12, as the addon's im2col takes it): batch, inH, inW, inC, outH, outW, filterH, filterW,
 * strideH, strideW, padTop, padLeft. Every call checks its extents against the array and throws a RangeError instead
 * of touching memory outside it.
 */
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tuneserve_common.h"

/* the kernels pass vectors only between inlined helpers; the ABI note about wide vector arguments does not apply */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef Geometry Geo;

/* One conv job on one image whose windows never leave `src` (a padded copy when the geometry pads). */
typedef struct {
  const float *src; /* the image, hp x wp x ci */
  int64_t wp;       /* its row length in pixels */
  const float *w;   /* [fh, fw, ci, co] */
  const float *bias;
  float *y; /* this image's output [oh, ow, co] */
  int64_t co;
  bool relu;
} Job;

/* Output channels past the last whole vector, one at a time (no shape the search spaces produce needs this). */
static void tail_channels(const Job *j, const Geo *g, int64_t c0) {
  const int64_t ci = g->ci, co = j->co;
  for (int64_t oy = 0; oy < g->oh; oy++) {
    for (int64_t ox = 0; ox < g->ow; ox++) {
      float *out = j->y + (oy * g->ow + ox) * co;
      for (int64_t c = c0; c < co; c++) {
        float sum = j->bias ? j->bias[c] : 0.0f;
        for (int64_t kh = 0; kh < g->fh; kh++) {
          const float *in = j->src + ((oy * g->sh + kh) * j->wp + ox * g->sw) * ci;
          for (int64_t kw = 0; kw < g->fw; kw++)
            for (int64_t i = 0; i < ci; i++) sum += in[kw * ci + i] * j->w[((kh * g->fw + kw) * ci + i) * co + c];
        }
        out[c] = j->relu && sum < 0.0f ? 0.0f : sum;
      }
    }
  }
}


/*
 * R output pixels starting at (oy, ox), output channels [c0, c0 + VW * NV): accumulators in registers, one pass
 * over the filter taps.
 */
#define DEFINE_BLOCK(NAME, NV, R)                                                                         \
  TARGET static inline __attribute__((always_inline)) void NAME(const Job *j, const Geo *g, int64_t oy,         \
                                                         int64_t ox, int64_t c0) {                       \
    VF acc[R][NV];                                                                                      \
    _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int v = 0; v < NV; \
                                                                                     v++) acc[r][v] =     \
        j->bias ? F(load)(j->bias + c0 + VW * v) : (VF){0};                                              \
    const int64_t ci = g->ci, co = j->co, step = g->sw * ci;                                             \
    for (int64_t kh = 0; kh < g->fh; kh++) {                                                             \
      const float *row = j->src + ((oy * g->sh + kh) * j->wp + ox * g->sw) * ci;                         \
      for (int64_t kw = 0; kw < g->fw; kw++) {                                                           \
        const float *in = row + kw * ci;                                                                 \
        const float *wk = j->w + (kh * g->fw + kw) * ci * co + c0;                                       \
        for (int64_t c = 0; c < ci; c++) {                                                               \
          VF wv[NV];                                                                                    \
          _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) wv[v] = F(load)(wk + c * co + VW * v);     \
          _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                         \
            const float s = in[r * step + c];                                                            \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] += s * wv[v];                 \
          }                                                                                              \
        }                                                                                                \
      }                                                                                                  \
    }                                                                                                    \
    float *out = j->y + (oy * g->ow + ox) * co + c0;                                                     \
    _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int v = 0; v < NV; \
                                                                                     v++)                \
        F(store)(out + r * co + VW * v, j->relu ? F(relu)(acc[r][v]) : acc[r][v]);                         \
  }

/* One output row, channels [c0, c0 + VW * nv), in blocks of R pixels (MID for rows narrower than R, then single
 * pixels). A remainder of at least half a block is one last block overlapping the one before (same values) instead of
 * a tail loop; a smaller one takes MID blocks and single pixels (an overlapping block would recompute up to R - 1
 * pixels: 5 of a 13-pixel row's 18 in blocks of 6). */
#define ROW_OF(BLOCK, R)                                          \
  for (int64_t ox = 0;; ox += (R)) {                              \
    const int64_t at = ox + (R) <= g->ow ? ox : g->ow - (R);      \
    BLOCK(j, g, oy, at, c0);                                      \
    if (at + (R) >= g->ow) break;                                 \
  }
#define ROW(BIG, MID, ONE, R, RM)                                               \
  do {                                                                          \
    const int64_t rem = g->ow % (R);                                            \
    if (g->ow >= (R) && (rem == 0 || 2 * rem >= (R))) {                         \
      ROW_OF(BIG, R)                                                            \
    } else {                                                                    \
      int64_t ox = 0;                                                           \
      for (; ox + (R) <= g->ow; ox += (R)) BIG(j, g, oy, ox, c0);               \
      for (; ox + (RM) <= g->ow; ox += (RM)) MID(j, g, oy, ox, c0);             \
      for (; ox < g->ow; ox++) ONE(j, g, oy, ox, c0);                           \
    }                                                                           \
  } while (0)

/*
 * Dense products of few rows, C[m, n] = A[m, k] @ B[k, n]: R rows x NV vectors of columns in registers, one pass over
 * B's rows. OpenBLAS packs all of B (200 KB for a 784 x 64 layer) on every call, which costs more than the product
 * itself for the one to a few rows a serving batch holds.
 */
#define DEFINE_DENSE(NAME, NV, R)                                                                              \
  TARGET static inline __attribute__((always_inline)) void NAME(const float *a, const float *b, float *c, int64_t k, \
                                                         int64_t n, int64_t j0) {                              \
    VF acc[R][NV];                                                                                           \
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) \
        acc[r][v] = (VF){0};                                                                                 \
    for (int64_t p = 0; p < k; p++) {                                                                         \
      VF bv[NV];                                                                                             \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) bv[v] = F(load)(b + p * n + j0 + VW * v);           \
      _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                                   \
        const float s = a[r * k + p];                                                                         \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] += s * bv[v];                          \
      }                                                                                                       \
    }                                                                                                         \
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) \
        F(store)(c + r * n + j0 + VW * v, acc[r][v]);                                                          \
  }

/*
 * A convolution's filter gradient over a band of window rows (training): dw[K, co] += cols[rows, K]^T @ dy[rows, co].
 * KB rows of dw x NV vectors of its columns stay in registers for one pass over the band: per window row, NV loads of
 * dy and KB broadcasts of the row's window values. Rows k0 + kb .. k0 + KB - 1 are computed and dropped (the band is
 * padded by TUNESERVE_FGRAD_PAD floats so they may read past the last row): no tail loop, and a first layer's K = 9
 * fits one block.
 */
#define DEFINE_FGRAD(NAME, NV, KB)                                                                                \
  TARGET static inline __attribute__((always_inline)) void NAME(const float *cols, int64_t K, const float *dy,      \
                                                              int64_t co, int64_t rows, float *dw, int64_t k0,     \
                                                              int64_t kb, int64_t c0) {                            \
    VF acc[KB][NV];                                                                                                \
    _Pragma("GCC unroll 24") for (int r = 0; r < KB; r++) _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)     \
        acc[r][v] = r < kb ? F(load)(dw + (k0 + r) * co + c0 + VW * v) : (VF){0};                                 \
    for (int64_t p = 0; p < rows; p++) {                                                                           \
      const float *cp = cols + p * K + k0;                                                                         \
      VF d[NV];                                                                                                    \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) d[v] = F(load)(dy + p * co + c0 + VW * v);              \
      _Pragma("GCC unroll 24") for (int r = 0; r < KB; r++) {                                                      \
        const float s = cp[r];                                                                                     \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] += s * d[v];                                \
      }                                                                                                            \
    }                                                                                                              \
    _Pragma("GCC unroll 24") for (int r = 0; r < KB; r++) if (r < kb) _Pragma("GCC unroll 4") for (int v = 0;      \
                                                                                              v < NV; v++)         \
        F(store)(dw + (k0 + r) * co + c0 + VW * v, acc[r][v]);                                                     \
  }

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define F(name) CAT(name, SUFFIX)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_KERNELS 1
#define VW 16
#define MAXNV 4
#define SUFFIX _avx512
#define TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))
#include "tuneserve_infer_kernels.h"
#undef VW
#undef MAXNV
#undef SUFFIX
#undef TARGET
#define VW 8
#define MAXNV 2
#define SUFFIX _avx2
#define TARGET __attribute__((target("avx2,fma")))
#include "tuneserve_infer_kernels.h"
#undef VW
#undef MAXNV
#undef SUFFIX
#undef TARGET
#endif
#define VW 4
#define MAXNV 2
#define SUFFIX _base
#define TARGET
#include "tuneserve_infer_kernels.h"
#undef VW
#undef MAXNV
#undef SUFFIX
#undef TARGET

typedef struct {
  const char *name;
  int64_t lanes; /* floats a vector holds */
  void (*conv_image)(const Job *j, const Geo *g);
  void (*max_pool)(const float *x, float *y, const Geo *g);
  void (*dense_rows)(const float *a, const float *b, float *c, int64_t m, int64_t k, int64_t n);
  void (*filter_grad)(const float *cols, int64_t K, const float *dy, int64_t co, int64_t rows, float *dw);
} Kernels;

static const Kernels kernel_sets[] = {
#ifdef HAVE_X86_KERNELS
    {"avx512", 16, conv_image_avx512, max_pool_avx512, dense_rows_avx512, filter_grad_avx512},
    {"avx2", 8, conv_image_avx2, max_pool_avx2, dense_rows_avx2, filter_grad_avx2},
#endif
    {"baseline", 4, conv_image_base, max_pool_base, dense_rows_base, filter_grad_base},
};
#define KERNEL_SETS (sizeof(kernel_sets) / sizeof(kernel_sets[0]))

static bool runs_here(const Kernels *k) {
#ifdef HAVE_X86_KERNELS
  __builtin_cpu_init();
  if (strcmp(k->name, "avx512") == 0) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  if (strcmp(k->name, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return strcmp(k->name, "baseline") == 0;
}

/* The widest set this CPU runs (chosen on first use; inferIsa can pick a narrower one, for tests). */
static const Kernels *kernels = NULL;
static const Kernels *active(void) {
  if (!kernels) {
    for (size_t i = 0; i < KERNEL_SETS && !kernels; i++)
      if (runs_here(&kernel_sets[i])) kernels = &kernel_sets[i];
  }
  return kernels;
}

/* The array's floats (a Float32Array, or an ArrayBuffer), or NULL. */
static float *floats_of(napi_env env, napi_value v, int64_t *count) {
  bool is_ab = false;
  void *data = NULL;
  size_t bytes = 0;
  if (napi_is_arraybuffer(env, v, &is_ab) != napi_ok) return NULL;
  if (is_ab) {
    if (napi_get_arraybuffer_info(env, v, &data, &bytes) != napi_ok) return NULL;
  } else {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok ||
        type != napi_float32_array) {
      return NULL;
    }
    bytes = length * sizeof(float);
  }
  *count = (int64_t)(bytes / sizeof(float));
  return (float *)data;
}

/* Sizes that describe a real convolution or pooling window, small enough that every offset computed from them fits
 * comfortably in int64. */
static bool geometry_fits(const Geo *g) {
  return g->ih > 0 && g->iw > 0 && g->ci > 0 && g->oh > 0 && g->ow > 0 && g->fh > 0 && g->fw > 0 && g->sh > 0 &&
         g->sw > 0 && g->pt < g->fh && g->pl < g->fw && g->ih * g->iw * g->ci <= INT32_MAX && g->fh * g->fw <= 1024;
}

static bool geometry_of(napi_env env, napi_value v, Geo *g) {
  return tuneserve_read_geometry(env, v, g) && geometry_fits(g);
}

/* The padded image every window of the output reads from: hp x wp pixels. */
static void padded_size(const Geo *g, int64_t *hp, int64_t *wp) {
  *hp = (g->oh - 1) * g->sh + g->fh;
  *wp = (g->ow - 1) * g->sw + g->fw;
}

bool tuneserve_direct_conv_fits(const Geometry *g, int64_t co) {
  int64_t hp, wp;
  if (!geometry_fits(g) || co < 1 || co > 65536 || g->n > INT32_MAX) return false;
  padded_size(g, &hp, &wp);
  return hp <= g->ih + 2 * g->fh && wp <= g->iw + 2 * g->fw;
}

bool tuneserve_direct_conv_fast(const Geometry *g, int64_t co) {
  return tuneserve_direct_conv_fits(g, co) && co % active()->lanes == 0;
}

bool tuneserve_filter_grad_fits(int64_t co) { return co >= 1 && co % active()->lanes == 0; }

void tuneserve_filter_grad_rows(const float *cols, int64_t K, const float *dy, int64_t co, int64_t rows, float *dw) {
  active()->filter_grad(cols, K, dy, co, rows, dw);
}

int64_t tuneserve_direct_conv_scratch(const Geometry *g) {
  int64_t hp, wp;
  padded_size(g, &hp, &wp);
  const bool pad = g->pt > 0 || g->pl > 0 || hp > g->ih || wp > g->iw;
  return pad ? hp * wp * g->ci : 0;
}

void tuneserve_direct_conv_images(const float *x, const float *w, const float *bias, float *y, const Geometry *g,
                                  int64_t co, bool relu, int64_t lo, int64_t hi, float *scratch) {
  int64_t hp, wp;
  padded_size(g, &hp, &wp);
  const int64_t image = g->ih * g->iw * g->ci, outs = g->oh * g->ow * co;
  const bool pad = tuneserve_direct_conv_scratch(g) > 0;
  for (int64_t n = lo; n < hi; n++) {
    const float *src = x + n * image;
    if (pad) {
      memset(scratch, 0, sizeof(float) * (size_t)(hp * wp * g->ci));
      for (int64_t r = 0; r < g->ih && r + g->pt < hp; r++) {
        const int64_t cols = g->iw + g->pl <= wp ? g->iw : wp - g->pl;
        memcpy(scratch + ((r + g->pt) * wp + g->pl) * g->ci, src + r * g->iw * g->ci,
               sizeof(float) * (size_t)(cols * g->ci));
      }
      src = scratch;
    }
    const Job job = {src, pad ? wp : g->iw, w, bias, y + n * outs, co, relu};
    active()->conv_image(&job, g);
  }
}

static napi_value fail(napi_env env, const char *what) {
  napi_throw_range_error(env, NULL, what);
  return NULL;
}

/* inferConv2d(ws, x, w, y, geometry, co, bias | -1, relu): y[n, oh, ow, co] = relu?(conv(x, w) + bias). */
static napi_value InferConv2d(napi_env env, napi_callback_info info) {
  static const char bad[] = "tuneserve_blas.inferConv2d: bad arguments or operand outside the array";
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 8) return fail(env, bad);
  int64_t count = 0;
  float *ws = floats_of(env, argv[0], &count);
  int64_t x, w, y, co, bias;
  bool relu;
  Geo g;
  if (!ws || napi_get_value_int64(env, argv[1], &x) != napi_ok || napi_get_value_int64(env, argv[2], &w) != napi_ok ||
      napi_get_value_int64(env, argv[3], &y) != napi_ok || !geometry_of(env, argv[4], &g) ||
      napi_get_value_int64(env, argv[5], &co) != napi_ok || napi_get_value_int64(env, argv[6], &bias) != napi_ok ||
      napi_get_value_bool(env, argv[7], &relu) != napi_ok || co < 1 || co > 65536 || g.n > INT32_MAX) {
    return fail(env, bad);
  }
  const int64_t image = g.ih * g.iw * g.ci, outs = g.oh * g.ow * co, k = g.fh * g.fw * g.ci;
  if (!tuneserve_direct_conv_fits(&g, co) || x < 0 || x + g.n * image > count || w < 0 || w + k * co > count ||
      y < 0 || y + g.n * outs > count || (bias >= 0 && bias + co > count)) {
    return fail(env, bad);
  }
  const int64_t pad = tuneserve_direct_conv_scratch(&g);
  float *scratch = pad > 0 ? (float *)malloc(sizeof(float) * (size_t)pad) : NULL;
  if (pad > 0 && !scratch) {
    napi_throw_error(env, NULL, "tuneserve_blas.inferConv2d: out of memory for a padded image");
    return NULL;
  }
  tuneserve_direct_conv_images(ws + x, ws + w, bias >= 0 ? ws + bias : NULL, ws + y, &g, co, relu, 0, g.n, scratch);
  free(scratch);
  return NULL;
}

/* inferMaxPool(ws, x, y, geometry): y = window maxima (geometry's filter = the pool window). */
static napi_value InferMaxPool(napi_env env, napi_callback_info info) {
  static const char bad[] = "tuneserve_blas.inferMaxPool: bad arguments or operand outside the array";
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) return fail(env, bad);
  int64_t count = 0;
  float *ws = floats_of(env, argv[0], &count);
  int64_t x, y;
  Geo g;
  if (!ws || napi_get_value_int64(env, argv[1], &x) != napi_ok || napi_get_value_int64(env, argv[2], &y) != napi_ok ||
      !geometry_of(env, argv[3], &g) || g.n > INT32_MAX) {
    return fail(env, bad);
  }
  if (x < 0 || x + g.n * g.ih * g.iw * g.ci > count || y < 0 || y + g.n * g.oh * g.ow * g.ci > count) {
    return fail(env, bad);
  }
  active()->max_pool(ws + x, ws + y, &g);
  return NULL;
}

/* inferDense(ws, m, n, k, a, b, c): C[m, n] = A[m, k] @ B[k, n], row-major, for the few rows of a serving batch. */
static napi_value InferDense(napi_env env, napi_callback_info info) {
  static const char bad[] = "tuneserve_blas.inferDense: bad arguments or operand outside the array";
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7) return fail(env, bad);
  int64_t count = 0, v[6];
  float *ws = floats_of(env, argv[0], &count);
  if (!ws) return fail(env, bad);
  for (int i = 0; i < 6; i++) {
    if (napi_get_value_int64(env, argv[1 + i], &v[i]) != napi_ok) return fail(env, bad);
  }
  const int64_t m = v[0], n = v[1], k = v[2], a = v[3], b = v[4], c = v[5];
  if (m < 1 || n < 1 || k < 1 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || a < 0 || b < 0 || c < 0 ||
      a + m * k > count || b + k * n > count || c + m * n > count) {
    return fail(env, bad);
  }
  active()->dense_rows(ws + a, ws + b, ws + c, m, k, n);
  return NULL;
}

/* inferIsa(name?): the kernel set in use ("avx512", "avx2" or "baseline"); with a name this CPU runs, switches to it
 * first (tests compare every set the machine supports). Throws a RangeError for an unknown or unsupported name. */
static napi_value InferIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return fail(env, "tuneserve_blas.inferIsa: bad arguments");
  if (argc == 1) {
    char name[16];
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
      return fail(env, "tuneserve_blas.inferIsa: the name must be a string");
    }
    const Kernels *pick = NULL;
    for (size_t i = 0; i < KERNEL_SETS; i++)
      if (strcmp(kernel_sets[i].name, name) == 0 && runs_here(&kernel_sets[i])) pick = &kernel_sets[i];
    if (!pick) return fail(env, "tuneserve_blas.inferIsa: unknown kernel set or not supported by this CPU");
    kernels = pick;
  }
  napi_value out;
  if (napi_create_string_utf8(env, active()->name, NAPI_AUTO_LENGTH, &out) != napi_ok) return NULL;
  return out;
}

/* Adds this file's functions to the addon's exports (called from the addon's Init). */
napi_value tuneserve_inference_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"inferConv2d", NULL, InferConv2d, NULL, NULL, NULL, napi_default, NULL},
      {"inferMaxPool", NULL, InferMaxPool, NULL, NULL, NULL, napi_default, NULL},
      {"inferDense", NULL, InferDense, NULL, NULL, NULL, napi_default, NULL},
      {"inferIsa", NULL, InferIsa, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
