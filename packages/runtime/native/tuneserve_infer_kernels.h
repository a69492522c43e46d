/*
 * The inference kernels of tuneserve_infer.c for one vector width, included once per instruction set with VW (floats
 * per vector), TARGET (the function attribute selecting the instruction set) and SUFFIX (appended to every name)
 * defined, and MAXNV (vectors of output channels per register block: 4 with AVX-512's 32 registers, 2 with 16). GCC's generic vectors wider than the target's registers are lowered lane by lane (40x slower), so each
 * instruction set gets kernels written for its own width instead of one width cloned for all.
 */
typedef float F(vf) __attribute__((vector_size(VW * 4)));
typedef int32_t F(vi) __attribute__((vector_size(VW * 4)));
#define VF F(vf)
#define VI F(vi)

TARGET static inline __attribute__((always_inline)) VF F(load)(const float *p) {
  VF v;
  memcpy(&v, p, sizeof v);
  return v;
}
TARGET static inline __attribute__((always_inline)) void F(store)(float *p, VF v) { memcpy(p, &v, sizeof v); }
TARGET static inline __attribute__((always_inline)) VF F(relu)(VF v) {
  const VF zero = {0};
  return (VF)((VI)v & (VI)(v > zero));
}

/* max(a, b) lane by lane; b where a is NaN, as the scalar `a > b ? a : b` */
TARGET static inline __attribute__((always_inline)) VF F(max)(VF a, VF b) {
  const VI take = (VI)(a > b);
  return (VF)(((VI)a & take) | ((VI)b & ~take));
}



DEFINE_BLOCK(F(block1x8), 1, 8)
DEFINE_BLOCK(F(block1x4), 1, 4)
DEFINE_BLOCK(F(block1x1), 1, 1)
DEFINE_BLOCK(F(block2x6), 2, 6)
DEFINE_BLOCK(F(block2x3), 2, 3)
DEFINE_BLOCK(F(block2x1), 2, 1)
DEFINE_BLOCK(F(block3x4), 3, 4)
DEFINE_BLOCK(F(block3x2), 3, 2)
DEFINE_BLOCK(F(block3x1), 3, 1)
DEFINE_BLOCK(F(block4x4), 4, 4)
DEFINE_BLOCK(F(block4x2), 4, 2)
DEFINE_BLOCK(F(block4x1), 4, 1)


TARGET static void F(conv_image)(const Job *j, const Geo *g) {
  const int64_t full = j->co / VW * VW;
  for (int64_t c0 = 0; c0 < full;) {
    const int64_t nv = (full - c0) / VW >= MAXNV ? MAXNV : (full - c0) / VW;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      switch (nv) {
        case 4:
          ROW(F(block4x4), F(block4x2), F(block4x1), 4, 2);
          break;
        case 3:
          ROW(F(block3x4), F(block3x2), F(block3x1), 4, 2);
          break;
        case 2:
          ROW(F(block2x6), F(block2x3), F(block2x1), 6, 3);
          break;
        default:
          ROW(F(block1x8), F(block1x4), F(block1x1), 8, 4);
      }
    }
    c0 += VW * nv;
  }
  if (full < j->co) tail_channels(j, g, full);
}

/* Max over each window of NHWC images; padding never wins (windows are clipped to the image), an empty window is 0. */
TARGET static void F(max_pool)(const float *x, float *y, const Geo *g) {
  const int64_t ch = g->ci;
  for (int64_t n = 0; n < g->n; n++) {
    const float *img = x + n * g->ih * g->iw * ch;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      const int64_t h0 = oy * g->sh - g->pt, hs = h0 < 0 ? 0 : h0, he = h0 + g->fh > g->ih ? g->ih : h0 + g->fh;
      for (int64_t ox = 0; ox < g->ow; ox++, y += ch) {
        const int64_t w0 = ox * g->sw - g->pl, ws = w0 < 0 ? 0 : w0, we = w0 + g->fw > g->iw ? g->iw : w0 + g->fw;
        if (hs >= he || ws >= we) {
          memset(y, 0, sizeof(float) * (size_t)ch);
          continue;
        }
        if (ch % VW == 0) { /* whole vectors of channels: each window element once, maxima in registers */
          for (int64_t c = 0; c < ch; c += VW) {
            VF m = F(load)(img + (hs * g->iw + ws) * ch + c);
            for (int64_t h = hs; h < he; h++)
              for (int64_t w = ws; w < we; w++) m = F(max)(F(load)(img + (h * g->iw + w) * ch + c), m);
            F(store)(y + c, m);
          }
          continue;
        }
        memcpy(y, img + (hs * g->iw + ws) * ch, sizeof(float) * (size_t)ch);
        for (int64_t h = hs; h < he; h++) {
          for (int64_t w = ws; w < we; w++) {
            const float *in = img + (h * g->iw + w) * ch;
            for (int64_t c = 0; c < ch; c++) y[c] = in[c] > y[c] ? in[c] : y[c];
          }
        }
      }
    }
  }
}


DEFINE_DENSE(F(dense4x4), MAXNV, 4)
DEFINE_DENSE(F(dense4x1), MAXNV, 1)
DEFINE_DENSE(F(dense1x4), 1, 4)
DEFINE_DENSE(F(dense1x1), 1, 1)

TARGET static void F(dense_rows)(const float *a, const float *b, float *c, int64_t m, int64_t k, int64_t n) {
  const int64_t full = n / VW * VW;
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    int64_t j = 0;
    for (; j + MAXNV * VW <= full; j += MAXNV * VW) F(dense4x4)(a + i * k, b, c + i * n, k, n, j);
    for (; j < full; j += VW) F(dense1x4)(a + i * k, b, c + i * n, k, n, j);
  }
  for (; i < m; i++) {
    int64_t j = 0;
    for (; j + MAXNV * VW <= full; j += MAXNV * VW) F(dense4x1)(a + i * k, b, c + i * n, k, n, j);
    for (; j < full; j += VW) F(dense1x1)(a + i * k, b, c + i * n, k, n, j);
  }
  if (full == n) return;
  /* columns past the last whole vector (a 10-class output layer): row by row, B's tail columns in order */
  for (i = 0; i < m; i++) {
    float *ci = c + i * n;
    for (int64_t j = full; j < n; j++) ci[j] = 0.0f;
    for (int64_t p = 0; p < k; p++) {
      const float s = a[i * k + p];
      const float *bp = b + p * n;
      for (int64_t j = full; j < n; j++) ci[j] += s * bp[j];
    }
  }
}


/* Filter gradient of a band (see DEFINE_FGRAD): KB x NV accumulators fill 24 of AVX-512's 32 registers, 12 of 16. */
#define FG_ACC (MAXNV >= 4 ? 24 : 12)
DEFINE_FGRAD(F(fgrad1), 1, FG_ACC)
DEFINE_FGRAD(F(fgrad2), 2, FG_ACC / 2)
#if MAXNV >= 4
DEFINE_FGRAD(F(fgrad4), 4, FG_ACC / 4)
#endif

/* dw[K, co] += cols[rows, K]^T @ dy[rows, co]; co is whole vectors. */
TARGET static void F(filter_grad)(const float *cols, int64_t K, const float *dy, int64_t co, int64_t rows, float *dw) {
  for (int64_t c0 = 0; c0 < co;) {
    const int64_t left = (co - c0) / VW;
#if MAXNV >= 4
    if (left >= 4) {
      for (int64_t k0 = 0; k0 < K; k0 += FG_ACC / 4)
        F(fgrad4)(cols, K, dy, co, rows, dw, k0, K - k0 < FG_ACC / 4 ? K - k0 : FG_ACC / 4, c0);
      c0 += 4 * VW;
      continue;
    }
#endif
    if (left >= 2) {
      for (int64_t k0 = 0; k0 < K; k0 += FG_ACC / 2)
        F(fgrad2)(cols, K, dy, co, rows, dw, k0, K - k0 < FG_ACC / 2 ? K - k0 : FG_ACC / 2, c0);
      c0 += 2 * VW;
      continue;
    }
    for (int64_t k0 = 0; k0 < K; k0 += FG_ACC) F(fgrad1)(cols, K, dy, co, rows, dw, k0, K - k0 < FG_ACC ? K - k0 : FG_ACC, c0);
    c0 += VW;
  }
}
#undef FG_ACC
#undef VF
#undef VI
