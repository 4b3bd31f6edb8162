// Native CPU kernels of the modulated deformable convolution (DCNv2), written for this workbench from the
// operator's definition (Zhu et al., CVPR 2019, eq. 3):
//
//     y(p) = sum_k w_k * x(p + p_k + dp_k) * m_k
//
// Layout and sampling rule: see workbench/ops/deform_conv.py (the same as torchvision.ops.deform_conv2d):
//   offset (N, 2*dg*kh*kw, Ho, Wo), channel 2*(g*kh*kw + k) = dy, the next one = dx;
//   mask   (N, dg*kh*kw, Ho, Wo) or none (DCNv1, all ones); input channel c belongs to group c / (C / dg).
//   A sample at (y, x) is bilinear over the four neighbours (y0, x0), (y0, x0+1), (y0+1, x0), (y0+1, x0+1)
//   with y0 = floor(y), x0 = floor(x); a neighbour outside the frame contributes 0, so a sample with
//   y <= -1, y >= H, x <= -1 or x >= W (or a non-finite coordinate) is exactly 0, with zero gradients.
//
// The input is passed channels-last per deformable group with a zero border, one pixel before and two
// after the frame in each direction: x_cl (N, dg, H+3, W+3, C/dg). The group's channels at one pixel are
// contiguous, so a sample reads four short vectors and its bilinear weights are computed once for all of
// the group's channels; a sample position is clamped into [-1, H] x [-1, W], where all four corners lie in
// the padded plane, so no corner is tested: a corner outside the frame reads the zero border, and a sample
// outside the frame (whose clamped position reads only border zeros) is multiplied by 0.
// Two kernels, both for output rows [r0, r1) of every image (the Python side chunks the rows):
//   deform_im2col: the masked column matrix col (N, C*kh*kw, (r1-r0)*Wo), row c*kh*kw + k, i.e. the
//       (channel, tap) order of weight.view(C_out, -1).
//   deform_col2im_grad: from the column gradient g_col (same layout) the input gradient (accumulated into
//       g_x_cl, laid out as x_cl, border included; the four corners scattered), the offset gradient
//       (derivative of the bilinear sample w.r.t. y and x, summed over the group's channels, times the
//       mask), the mask gradient (sum over the group's channels of g_col times the unmasked sample) and,
//       optionally, the chunk's columns again (for the weight gradient), written into rows [r0, r1) of
//       g_off / g_mask. Work is split over (image, deformable group, block of the group's channels): no
//       two tasks write the same element of g_x_cl, and the blocks of one group (only when N*dg is below
//       the thread count) add their partial offset/mask gradients afterwards.
// Bilinear form used throughout, with x_q the corners (y0,x0), (y0,x0+1), (y0+1,x0), (y0+1,x0+1) and
// ly = y - y0, lx = x - x0: top = x_0 + lx (x_1 - x_0), bot = x_2 + lx (x_3 - x_2), S = top + ly (bot - top),
// dS/dy = bot - top, dS/dx = (x_1 - x_0) + ly ((x_3 - x_2) - (x_1 - x_0)).
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>
#ifdef __SSE2__
#include <immintrin.h>  // SSE2 only: part of every x86-64 CPU, so no -march flag is needed
#endif

namespace {

//: pixels ahead whose corners the vector loops prefetch
constexpr int64_t kAhead = 16;

#ifdef __SSE2__
// lane j of v in every lane
inline __m128 lane(__m128 v, int j) {
  switch (j) {
    case 0: return _mm_shuffle_ps(v, v, _MM_SHUFFLE(0, 0, 0, 0));
    case 1: return _mm_shuffle_ps(v, v, _MM_SHUFFLE(1, 1, 1, 1));
    case 2: return _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 2, 2, 2));
    default: return _mm_shuffle_ps(v, v, _MM_SHUFFLE(3, 3, 3, 3));
  }
}
#endif

struct Geometry {
  int64_t n, dg, h, w, cpg, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t taps() const { return kh * kw; }
  int64_t c() const { return dg * cpg; }
  int64_t pw3() const { return w + 3; }                       // padded row length (pixels)
  int64_t plane() const { return (h + 3) * (w + 3) * cpg; }  // one group's padded plane (elements)
};

// The bilinear samples of one output row of one tap: per pixel the index of the top-left corner's pixel
// in the group's padded plane (times C/dg: its element offset), the fractional parts ly, lx of the clamped
// position, and keep: 1 inside the frame, 0 outside, times the mask when one is given. Written by a plain
// branch-free loop over the row, which the compiler vectorises.
template <typename scalar_t>
struct RowSamples {
  std::vector<int32_t> base;
  std::vector<scalar_t> ly, lx, keep;
  explicit RowSamples(int64_t wo) : base(wo), ly(wo), lx(wo), keep(wo) {}
};

template <typename scalar_t, bool MASK>
__attribute__((always_inline)) inline void row_samples_body(const scalar_t* __restrict m, int32_t* __restrict base, scalar_t* __restrict lyp,
                             scalar_t* __restrict lxp, scalar_t* __restrict keepp, const scalar_t* __restrict dy,
                             const scalar_t* __restrict dx, scalar_t by, scalar_t bxf, scalar_t sw, scalar_t H,
                             scalar_t W, int32_t pw3, int32_t wo) {
  const scalar_t pw3f = static_cast<scalar_t>(pw3);
  for (int32_t ox = 0; ox < wo; ++ox) {
    scalar_t y = by + dy[ox];
    scalar_t x = bxf + static_cast<scalar_t>(ox) * sw + dx[ox];
    const bool in = (y > scalar_t(-1)) & (y < H) & (x > scalar_t(-1)) & (x < W);  // false for NaN
    keepp[ox] = (in ? scalar_t(1) : scalar_t(0)) * (MASK ? m[ox] : scalar_t(1));  // unconditional load
    // clamp into [-1, H] x [-1, W] (NaN → -1)
    y = y > scalar_t(-1) ? y : scalar_t(-1);
    y = y < H ? y : H;
    x = x > scalar_t(-1) ? x : scalar_t(-1);
    x = x < W ? x : W;
    // floor: truncation, minus one below it (in floating point: SSE2 has no 32-bit integer multiply; the
    // padded pixel index is exact while (H+3)*(W+3) < 2^24)
    scalar_t fy = static_cast<scalar_t>(static_cast<int32_t>(y)), fx = static_cast<scalar_t>(static_cast<int32_t>(x));
    fy -= fy > y ? scalar_t(1) : scalar_t(0);
    fx -= fx > x ? scalar_t(1) : scalar_t(0);
    lyp[ox] = y - fy;
    lxp[ox] = x - fx;
    // padded coordinates: pixel (y, x) of the frame is (y + 1, x + 1) of the padded plane
    base[ox] = static_cast<int32_t>((fy + scalar_t(1)) * pw3f + (fx + scalar_t(1)));
  }
}

#define WB_ROW_SAMPLES_ARGS                                                                                   \
  const scalar_t *__restrict m, int32_t *__restrict base, scalar_t *__restrict lyp, scalar_t *__restrict lxp, \
      scalar_t *__restrict keepp, const scalar_t *__restrict dy, const scalar_t *__restrict dx, scalar_t by,  \
      scalar_t bxf, scalar_t sw, scalar_t H, scalar_t W, int32_t pw3, int32_t wo
#define WB_ROW_SAMPLES_CALL m, base, lyp, lxp, keepp, dy, dx, by, bxf, sw, H, W, pw3, wo

// The same loop compiled for the baseline (SSE2) and, chosen at run time where the CPU has it, for AVX2
// (8 samples per vector instead of 4); the binary itself stays baseline x86-64.
template <typename scalar_t, bool MASK>
void row_samples_sse2(WB_ROW_SAMPLES_ARGS) {
  row_samples_body<scalar_t, MASK>(WB_ROW_SAMPLES_CALL);
}
#if defined(__x86_64__) && defined(__GNUC__)
template <typename scalar_t, bool MASK>
__attribute__((target("avx2"))) void row_samples_avx2(WB_ROW_SAMPLES_ARGS) {
  row_samples_body<scalar_t, MASK>(WB_ROW_SAMPLES_CALL);
}
inline bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

template <typename scalar_t, bool MASK>
inline void row_samples_impl(WB_ROW_SAMPLES_ARGS) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_has_avx2()) return row_samples_avx2<scalar_t, MASK>(WB_ROW_SAMPLES_CALL);
#endif
  row_samples_sse2<scalar_t, MASK>(WB_ROW_SAMPLES_CALL);
}

// m: the modulation of the row (multiplied into keep), or nullptr.
template <typename scalar_t>
inline void row_samples(RowSamples<scalar_t>& rs, const Geometry& g, scalar_t by, int64_t bx, const scalar_t* dy,
                        const scalar_t* dx, const scalar_t* m) {
  (m != nullptr ? row_samples_impl<scalar_t, true> : row_samples_impl<scalar_t, false>)(
      m, rs.base.data(), rs.ly.data(), rs.lx.data(), rs.keep.data(), dy, dx, by, static_cast<scalar_t>(bx),
      static_cast<scalar_t>(g.sw), static_cast<scalar_t>(g.h), static_cast<scalar_t>(g.w),
      static_cast<int32_t>(g.pw3()), static_cast<int32_t>(g.wo));
}

// CPG > 0: channels per group known at compile time (the channel loops unroll and vectorise); 0: g.cpg.
// xp: padded channels-last input (N, dg, H+3, W+3, cpg) with a zero border.
template <typename scalar_t, int CPG>
void im2col_kernel(const Geometry& g, const scalar_t* xp, const scalar_t* op, const scalar_t* mp, scalar_t* cp,
                   int64_t r0, int64_t r1) {
  const int64_t rows = r1 - r0, taps = g.taps(), plane = g.ho * g.wo, gplane = g.plane();
  const int64_t cpg = CPG > 0 ? CPG : g.cpg, colrow = rows * g.wo, down = g.pw3() * cpg;
  const int64_t tasks = g.n * g.dg * taps * rows;  // one task = (n, group, tap, output row)
  at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
    RowSamples<scalar_t> rs(g.wo);
    std::vector<scalar_t> vvec(cpg);
    scalar_t vbuf[CPG > 0 ? CPG : 1];
    scalar_t* v = CPG > 0 ? vbuf : vvec.data();
    for (int64_t t = begin; t < end; ++t) {
      const int64_t r = t % rows, k = (t / rows) % taps, gi = (t / (rows * taps)) % g.dg;
      const int64_t n = t / (rows * taps * g.dg), oy = r0 + r;
      const int64_t ch = gi * taps + k;  // offset pair / mask channel
      const scalar_t* dy = op + (n * 2 * g.dg * taps + 2 * ch) * plane + oy * g.wo;
      row_samples(rs, g, static_cast<scalar_t>(oy * g.sh - g.ph + (k / g.kw) * g.dh), (k % g.kw) * g.dw - g.pw,
                  dy, dy + plane, mp != nullptr ? mp + (n * g.dg * taps + ch) * plane + oy * g.wo : nullptr);
      const scalar_t* src = xp + (n * g.dg + gi) * gplane;
      scalar_t* dst = cp + ((n * g.c() + gi * cpg) * taps + k) * colrow + r * g.wo;  // channel 0 of the group
      int64_t ox = 0;
#ifdef __SSE2__
      if constexpr (std::is_same_v<scalar_t, float> && CPG > 0 && CPG % 4 == 0) {
        // four pixels at a time: per 4-channel slice, one vector of channels per pixel, a 4x4 transpose,
        // and one 4-pixel store per channel (instead of 16 scalar stores)
        const int64_t stride = taps * colrow;
        for (; ox + 4 <= g.wo; ox += 4) {
          if (ox + 4 + kAhead <= g.wo) {  // the corner rows of the pixels kAhead on (L2 → L1)
            for (int j = 0; j < 4; ++j) {
              _mm_prefetch(reinterpret_cast<const char*>(src + rs.base[ox + kAhead + j] * CPG), _MM_HINT_T0);
              _mm_prefetch(reinterpret_cast<const char*>(src + rs.base[ox + kAhead + j] * CPG + down), _MM_HINT_T0);
            }
          }
          const __m128 lyv = _mm_loadu_ps(rs.ly.data() + ox), lxv = _mm_loadu_ps(rs.lx.data() + ox);
          const __m128 kv = _mm_loadu_ps(rs.keep.data() + ox);
          for (int64_t c4 = 0; c4 < CPG; c4 += 4) {
            __m128 r[4];
            for (int j = 0; j < 4; ++j) {
              const float* q = src + rs.base[ox + j] * CPG + c4;
              const __m128 x0 = _mm_loadu_ps(q), x1 = _mm_loadu_ps(q + CPG);
              const __m128 x2 = _mm_loadu_ps(q + down), x3 = _mm_loadu_ps(q + down + CPG);
              const __m128 lx = lane(lxv, j);
              const __m128 top = _mm_add_ps(x0, _mm_mul_ps(lx, _mm_sub_ps(x1, x0)));
              const __m128 bot = _mm_add_ps(x2, _mm_mul_ps(lx, _mm_sub_ps(x3, x2)));
              r[j] = _mm_mul_ps(lane(kv, j), _mm_add_ps(top, _mm_mul_ps(lane(lyv, j), _mm_sub_ps(bot, top))));
            }
            _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
            for (int c = 0; c < 4; ++c) _mm_storeu_ps(dst + (c4 + c) * stride + ox, r[c]);
          }
        }
      }
#endif
      for (; ox < g.wo; ++ox) {
        const scalar_t* p = src + rs.base[ox] * cpg;
        const scalar_t ly = rs.ly[ox], lx = rs.lx[ox], kp = rs.keep[ox];
        const scalar_t w0 = kp * (scalar_t(1) - ly) * (scalar_t(1) - lx), w1 = kp * (scalar_t(1) - ly) * lx;
        const scalar_t w2 = kp * ly * (scalar_t(1) - lx), w3 = kp * ly * lx;
        for (int64_t c = 0; c < cpg; ++c)
          v[c] = w0 * p[c] + w1 * p[cpg + c] + w2 * p[down + c] + w3 * p[down + cpg + c];
        for (int64_t c = 0; c < cpg; ++c) dst[c * taps * colrow + ox] = v[c];
      }
    }
  });
}

// blocks: channel blocks per group (1 when CPG > 0). gxp: padded like xp, accumulated (border included).
// colp: the masked columns (as im2col writes them), or nullptr.
template <typename scalar_t, int CPG>
void col2im_kernel(const Geometry& g, const scalar_t* xp, const scalar_t* op, const scalar_t* mp,
                   const scalar_t* gp, scalar_t* colp, scalar_t* gxp, scalar_t* gop, scalar_t* gmp, int64_t r0,
                   int64_t r1, int64_t blocks) {
  const int64_t rows = r1 - r0, taps = g.taps(), plane = g.ho * g.wo, gplane = g.plane();
  const int64_t cpg = CPG > 0 ? CPG : g.cpg, colrow = rows * g.wo, down = g.pw3() * cpg;
  const bool want_om = gop != nullptr || gmp != nullptr, want_col = colp != nullptr;
  const int64_t per_block = (cpg + blocks - 1) / blocks;
  // with several blocks, partial (gy, gx, gm) per block: (blocks, N, dg, taps, 3, rows*Wo)
  const int64_t part_len = g.n * g.dg * taps * 3 * colrow;
  std::vector<scalar_t> part(want_om && blocks > 1 ? static_cast<size_t>(blocks * part_len) : 0);
  at::parallel_for(0, g.n * g.dg * blocks, 1, [&](int64_t begin, int64_t end) {
    RowSamples<scalar_t> rs(g.wo);
    std::vector<scalar_t> gvec(cpg);
    scalar_t gbuf[CPG > 0 ? CPG : 1];
    scalar_t* gc = CPG > 0 ? gbuf : gvec.data();
    for (int64_t t = begin; t < end; ++t) {
      const int64_t b = t % blocks, gi = (t / blocks) % g.dg, n = t / (blocks * g.dg);
      const int64_t c0 = b * per_block, nc = CPG > 0 ? CPG : std::min(cpg, c0 + per_block) - c0;
      const scalar_t* src = xp + (n * g.dg + gi) * gplane + c0;
      scalar_t* gsrc = gxp != nullptr ? gxp + (n * g.dg + gi) * gplane + c0 : nullptr;
      for (int64_t k = 0; k < taps; ++k) {
        const int64_t ch = gi * taps + k;
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t oy = r0 + r;
          const scalar_t* dy = op + (n * 2 * g.dg * taps + 2 * ch) * plane + oy * g.wo;
          const scalar_t* m = mp != nullptr ? mp + (n * g.dg * taps + ch) * plane + oy * g.wo : nullptr;
          row_samples(rs, g, static_cast<scalar_t>(oy * g.sh - g.ph + (k / g.kw) * g.dh),
                      (k % g.kw) * g.dw - g.pw, dy, dy + plane, m);  // keep = in-frame flag times the mask
          const scalar_t* gcol = gp + ((n * g.c() + gi * cpg + c0) * taps + k) * colrow + r * g.wo;
          scalar_t* colo = want_col ? colp + (gcol - gp) : nullptr;
          scalar_t *oy_out = nullptr, *ox_out = nullptr, *m_out = nullptr;
          if (blocks > 1 && want_om) {
            oy_out = part.data() + b * part_len + ((n * g.dg + gi) * taps + k) * 3 * colrow + r * g.wo;
            ox_out = oy_out + colrow;
            m_out = ox_out + colrow;
          } else {
            if (gop != nullptr) {
              oy_out = gop + (n * 2 * g.dg * taps + 2 * ch) * plane + oy * g.wo;
              ox_out = oy_out + plane;
            }
            if (gmp != nullptr) m_out = gmp + (n * g.dg * taps + ch) * plane + oy * g.wo;
          }
          int64_t ox = 0;
#ifdef __SSE2__
          if constexpr (std::is_same_v<scalar_t, float> && CPG > 0 && CPG % 4 == 0) {
            // four pixels at a time: the column gradient of 4 channels x 4 pixels is read as rows and
            // transposed to one vector of channels per pixel; corner updates and products are such vectors,
            // the columns are transposed back for their store, and the channel sums of g_col*S,
            // g_col*dS/dy, g_col*dS/dx come out of 4x4 transposes as vectors over the 4 pixels. (A sample
            // outside the frame reads border zeros: its S is 0; keep zeroes its derivatives and scatter.)
            const int64_t stride = taps * colrow;
            for (; ox + 4 <= g.wo; ox += 4) {
              __m128 aS[4], aY[4], aX[4];
              for (int j = 0; j < 4; ++j) aS[j] = aY[j] = aX[j] = _mm_setzero_ps();
              if (ox + 4 + kAhead <= g.wo) {  // the corner rows of the pixels kAhead on (L2 → L1)
                for (int j = 0; j < 4; ++j) {
                  const int64_t at = rs.base[ox + kAhead + j] * CPG;
                  _mm_prefetch(reinterpret_cast<const char*>(src + at), _MM_HINT_T0);
                  _mm_prefetch(reinterpret_cast<const char*>(src + at + down), _MM_HINT_T0);
                  if (gsrc != nullptr) {
                    _mm_prefetch(reinterpret_cast<const char*>(gsrc + at), _MM_HINT_T0);
                    _mm_prefetch(reinterpret_cast<const char*>(gsrc + at + down), _MM_HINT_T0);
                  }
                }
              }
              const __m128 lyv = _mm_loadu_ps(rs.ly.data() + ox), lxv = _mm_loadu_ps(rs.lx.data() + ox);
              const __m128 kv = _mm_loadu_ps(rs.keep.data() + ox);
              for (int64_t c4 = 0; c4 < CPG; c4 += 4) {
                __m128 gv[4], cv[4];
                for (int c = 0; c < 4; ++c) gv[c] = _mm_loadu_ps(gcol + (c4 + c) * stride + ox);
                _MM_TRANSPOSE4_PS(gv[0], gv[1], gv[2], gv[3]);  // gv[j]: channels c4.. of pixel ox + j
                for (int j = 0; j < 4; ++j) {
                  const int64_t at = rs.base[ox + j] * CPG + c4;
                  const float* pp = src + at;
                  const __m128 ly = lane(lyv, j), lx = lane(lxv, j), kp = lane(kv, j);
                  if (want_col || want_om) {
                    const __m128 x0 = _mm_loadu_ps(pp), x1 = _mm_loadu_ps(pp + CPG);
                    const __m128 x2 = _mm_loadu_ps(pp + down), x3 = _mm_loadu_ps(pp + down + CPG);
                    const __m128 t0 = _mm_sub_ps(x1, x0), t1 = _mm_sub_ps(x3, x2);
                    const __m128 top = _mm_add_ps(x0, _mm_mul_ps(lx, t0)), bot = _mm_add_ps(x2, _mm_mul_ps(lx, t1));
                    const __m128 dsy = _mm_sub_ps(bot, top);
                    const __m128 sv = _mm_add_ps(top, _mm_mul_ps(ly, dsy));
                    cv[j] = _mm_mul_ps(sv, kp);
                    aS[j] = _mm_add_ps(aS[j], _mm_mul_ps(gv[j], sv));
                    if (want_om) {
                      const __m128 dsx = _mm_add_ps(t0, _mm_mul_ps(ly, _mm_sub_ps(t1, t0)));
                      aY[j] = _mm_add_ps(aY[j], _mm_mul_ps(gv[j], dsy));
                      aX[j] = _mm_add_ps(aX[j], _mm_mul_ps(gv[j], dsx));
                    }
                  }
                  if (gsrc != nullptr) {
                    // corners (1-ly)(1-lx), (1-ly)lx, ly(1-lx), ly*lx, times g_col * keep
                    float* d = gsrc + at;
                    const __m128 gm = _mm_mul_ps(gv[j], kp);
                    const __m128 bq = _mm_mul_ps(gm, ly), aq = _mm_sub_ps(gm, bq);
                    const __m128 a1 = _mm_mul_ps(aq, lx), b1 = _mm_mul_ps(bq, lx);
                    _mm_storeu_ps(d, _mm_add_ps(_mm_loadu_ps(d), _mm_sub_ps(aq, a1)));
                    _mm_storeu_ps(d + CPG, _mm_add_ps(_mm_loadu_ps(d + CPG), a1));
                    _mm_storeu_ps(d + down, _mm_add_ps(_mm_loadu_ps(d + down), _mm_sub_ps(bq, b1)));
                    _mm_storeu_ps(d + down + CPG, _mm_add_ps(_mm_loadu_ps(d + down + CPG), b1));
                  }
                }
                if (want_col) {
                  _MM_TRANSPOSE4_PS(cv[0], cv[1], cv[2], cv[3]);
                  for (int c = 0; c < 4; ++c) _mm_storeu_ps(colo + (c4 + c) * stride + ox, cv[c]);
                }
              }
              if (want_om) {  // sums over the channels, as vectors over the 4 pixels
                _MM_TRANSPOSE4_PS(aS[0], aS[1], aS[2], aS[3]);
                _MM_TRANSPOSE4_PS(aY[0], aY[1], aY[2], aY[3]);
                _MM_TRANSPOSE4_PS(aX[0], aX[1], aX[2], aX[3]);
                const __m128 fm = _mm_add_ps(_mm_add_ps(aS[0], aS[1]), _mm_add_ps(aS[2], aS[3]));
                const __m128 fy = _mm_add_ps(_mm_add_ps(aY[0], aY[1]), _mm_add_ps(aY[2], aY[3]));
                const __m128 fx = _mm_add_ps(_mm_add_ps(aX[0], aX[1]), _mm_add_ps(aX[2], aX[3]));
                if (oy_out != nullptr) {
                  _mm_storeu_ps(oy_out + ox, _mm_mul_ps(kv, fy));
                  _mm_storeu_ps(ox_out + ox, _mm_mul_ps(kv, fx));
                }
                if (m_out != nullptr) _mm_storeu_ps(m_out + ox, fm);
              }
            }
          }
#endif
          for (; ox < g.wo; ++ox) {
            const scalar_t ly = rs.ly[ox], lx = rs.lx[ox], kp = rs.keep[ox];
            for (int64_t c = 0; c < nc; ++c) gc[c] = gcol[c * taps * colrow + ox];
            const int64_t at = rs.base[ox] * cpg;
            if (gsrc != nullptr) {
              scalar_t* d = gsrc + at;
              const scalar_t u0 = kp * (scalar_t(1) - ly) * (scalar_t(1) - lx), u1 = kp * (scalar_t(1) - ly) * lx;
              const scalar_t u2 = kp * ly * (scalar_t(1) - lx), u3 = kp * ly * lx;
              for (int64_t c = 0; c < nc; ++c) {
                d[c] += u0 * gc[c];
                d[cpg + c] += u1 * gc[c];
                d[down + c] += u2 * gc[c];
                d[down + cpg + c] += u3 * gc[c];
              }
            }
            if (want_om || want_col) {
              const scalar_t* p = src + at;
              const scalar_t w0 = (scalar_t(1) - ly) * (scalar_t(1) - lx), w1 = (scalar_t(1) - ly) * lx;
              const scalar_t w2 = ly * (scalar_t(1) - lx), w3 = ly * lx;
              scalar_t fm = 0, fy = 0, fx = 0;
              for (int64_t c = 0; c < nc; ++c) {
                const scalar_t x0 = p[c], x1 = p[cpg + c], x2 = p[down + c], x3 = p[down + cpg + c];
                const scalar_t sv = w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;  // 0 outside: border zeros
                if (want_col) colo[c * taps * colrow + ox] = kp * sv;
                fm += gc[c] * sv;
                fy += gc[c] * ((scalar_t(1) - lx) * (x2 - x0) + lx * (x3 - x1));
                fx += gc[c] * ((scalar_t(1) - ly) * (x1 - x0) + ly * (x3 - x2));
              }
              // masked per block: the sum over blocks below needs no mask
              if (oy_out != nullptr) {
                oy_out[ox] = kp * fy;
                ox_out[ox] = kp * fx;
              }
              if (m_out != nullptr) m_out[ox] = fm;
            }
          }
        }
      }
    }
  });
  if (!(want_om && blocks > 1)) return;
  at::parallel_for(0, g.n * g.dg * taps, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / (g.dg * taps), ch = t % (g.dg * taps);
      for (int64_t i = 0; i < colrow; ++i) {
        scalar_t fy = 0, fx = 0, fm = 0;
        for (int64_t b = 0; b < blocks; ++b) {
          const scalar_t* a = part.data() + b * part_len + t * 3 * colrow;
          fy += a[i];
          fx += a[i + colrow];
          fm += a[i + 2 * colrow];
        }
        const int64_t px = r0 * g.wo + i;
        if (gop != nullptr) {
          gop[(n * 2 * g.dg * taps + 2 * ch) * plane + px] = fy;
          gop[(n * 2 * g.dg * taps + 2 * ch + 1) * plane + px] = fx;
        }
        if (gmp != nullptr) gmp[(n * g.dg * taps + ch) * plane + px] = fm;
      }
    }
  });
}

Geometry make_geometry(const at::Tensor& x_cl, const at::Tensor& offset, int64_t kh, int64_t kw, int64_t sh,
                       int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  TORCH_CHECK(x_cl.dim() == 5 && offset.dim() == 4 && x_cl.size(2) > 3 && x_cl.size(3) > 3,
              "deform_conv native: input must be padded (N, dg, H+3, W+3, C/dg) and offset 4-D");
  Geometry g{x_cl.size(0), x_cl.size(1), x_cl.size(2) - 3, x_cl.size(3) - 3, x_cl.size(4), offset.size(2),
             offset.size(3), kh, kw, sh, sw, ph, pw, dh, dw};
  TORCH_CHECK((g.h + 3) * (g.w + 3) < (int64_t(1) << 24), "deform_conv native: more than 2^24 padded pixels");
  TORCH_CHECK(offset.size(0) == g.n && offset.size(1) == 2 * g.dg * kh * kw, "deform_conv native: offset shape");
  return g;
}

void check_tensor(const at::Tensor& t, const at::Tensor& like, const char* name) {
  TORCH_CHECK(t.device().is_cpu(), "deform_conv native: ", name, " must be on the CPU");
  TORCH_CHECK(t.is_contiguous(), "deform_conv native: ", name, " must be contiguous");
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), "deform_conv native: ", name, " has another dtype");
}

template <typename scalar_t>
using Im2col = void (*)(const Geometry&, const scalar_t*, const scalar_t*, const scalar_t*, scalar_t*, int64_t,
                        int64_t);
template <typename scalar_t>
using Col2im = void (*)(const Geometry&, const scalar_t*, const scalar_t*, const scalar_t*, const scalar_t*,
                        scalar_t*, scalar_t*, scalar_t*, scalar_t*, int64_t, int64_t, int64_t);

template <typename scalar_t>
Im2col<scalar_t> pick_im2col(int64_t cpg) {
  switch (cpg) {
    case 1: return im2col_kernel<scalar_t, 1>;
    case 2: return im2col_kernel<scalar_t, 2>;
    case 4: return im2col_kernel<scalar_t, 4>;
    case 8: return im2col_kernel<scalar_t, 8>;
    case 16: return im2col_kernel<scalar_t, 16>;
    case 32: return im2col_kernel<scalar_t, 32>;
    case 64: return im2col_kernel<scalar_t, 64>;
    default: return im2col_kernel<scalar_t, 0>;
  }
}

template <typename scalar_t>
Col2im<scalar_t> pick_col2im(int64_t cpg) {
  switch (cpg) {
    case 1: return col2im_kernel<scalar_t, 1>;
    case 2: return col2im_kernel<scalar_t, 2>;
    case 4: return col2im_kernel<scalar_t, 4>;
    case 8: return col2im_kernel<scalar_t, 8>;
    case 16: return col2im_kernel<scalar_t, 16>;
    case 32: return col2im_kernel<scalar_t, 32>;
    case 64: return col2im_kernel<scalar_t, 64>;
    default: return col2im_kernel<scalar_t, 0>;
  }
}

}  // namespace

// x_cl: (N, dg, H+3, W+3, C/dg), zero border (1 before, 2 after); col: (N, C*taps, (r1-r0)*Wo), written entirely.
void deform_im2col(const at::Tensor& x_cl, const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                   at::Tensor& col, int64_t r0, int64_t r1, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                   int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  const Geometry g = make_geometry(x_cl, offset, kh, kw, sh, sw, ph, pw, dh, dw);
  check_tensor(x_cl, x_cl, "input");
  check_tensor(offset, x_cl, "offset");
  check_tensor(col, x_cl, "columns");
  const bool has_mask = mask.has_value() && mask->defined();
  if (has_mask) check_tensor(*mask, x_cl, "mask");
  TORCH_CHECK(0 <= r0 && r0 < r1 && r1 <= g.ho, "deform_conv native: bad row range");
  TORCH_CHECK(col.numel() == g.n * g.c() * g.taps() * (r1 - r0) * g.wo, "deform_conv native: columns shape");
  AT_DISPATCH_FLOATING_TYPES(x_cl.scalar_type(), "deform_im2col", [&] {
    pick_im2col<scalar_t>(g.cpg)(g, x_cl.data_ptr<scalar_t>(), offset.data_ptr<scalar_t>(),
                                 has_mask ? mask->data_ptr<scalar_t>() : nullptr, col.data_ptr<scalar_t>(), r0, r1);
  });
}

// g_col: (N, C*taps, (r1-r0)*Wo). col (same shape) receives the masked columns, as deform_im2col writes them
// (for the weight gradient); g_x_cl (laid out as x_cl) is accumulated into; rows [r0, r1) of g_off and
// g_mask are overwritten. Any of the four outputs may be None (not wanted).
void deform_col2im_grad(const at::Tensor& x_cl, const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                        const at::Tensor& g_col, const std::optional<at::Tensor>& col,
                        const std::optional<at::Tensor>& g_x_cl,
                        const std::optional<at::Tensor>& g_off, const std::optional<at::Tensor>& g_mask,
                        int64_t r0, int64_t r1, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                        int64_t pw, int64_t dh, int64_t dw) {
  const Geometry g = make_geometry(x_cl, offset, kh, kw, sh, sw, ph, pw, dh, dw);
  check_tensor(x_cl, x_cl, "input");
  check_tensor(offset, x_cl, "offset");
  check_tensor(g_col, x_cl, "column gradient");
  const bool has_mask = mask.has_value() && mask->defined();
  if (has_mask) check_tensor(*mask, x_cl, "mask");
  const bool want_col = col.has_value() && col->defined();
  if (want_col) check_tensor(*col, x_cl, "columns");
  if (want_col) TORCH_CHECK(col->numel() == g_col.numel(), "deform_conv native: columns shape");
  const bool want_x = g_x_cl.has_value() && g_x_cl->defined();
  const bool want_off = g_off.has_value() && g_off->defined();
  const bool want_mask = g_mask.has_value() && g_mask->defined();
  if (want_x) check_tensor(*g_x_cl, x_cl, "input gradient");
  if (want_x) TORCH_CHECK(g_x_cl->sizes() == x_cl.sizes(), "deform_conv native: input gradient shape");
  if (want_off) check_tensor(*g_off, x_cl, "offset gradient");
  if (want_off) TORCH_CHECK(g_off->sizes() == offset.sizes(), "deform_conv native: offset gradient shape");
  if (want_mask) check_tensor(*g_mask, x_cl, "mask gradient");
  if (want_mask) TORCH_CHECK(has_mask && g_mask->sizes() == mask->sizes(), "deform_conv native: mask gradient");
  TORCH_CHECK(0 <= r0 && r0 < r1 && r1 <= g.ho, "deform_conv native: bad row range");
  TORCH_CHECK(g_col.numel() == g.n * g.c() * g.taps() * (r1 - r0) * g.wo,
              "deform_conv native: column gradient shape");
  if (!want_col && !want_x && !want_off && !want_mask) return;
  // channel blocks per group: enough tasks for every thread when N*dg is small and g_x is wanted
  const int64_t threads = at::get_num_threads(), groups = g.n * g.dg;
  int64_t blocks = 1;
  if (want_x && groups < threads) blocks = std::min<int64_t>(g.cpg, (threads + groups - 1) / groups);
  blocks = (g.cpg + (g.cpg + blocks - 1) / blocks - 1) / ((g.cpg + blocks - 1) / blocks);
  AT_DISPATCH_FLOATING_TYPES(x_cl.scalar_type(), "deform_col2im_grad", [&] {
    (blocks > 1 ? col2im_kernel<scalar_t, 0> : pick_col2im<scalar_t>(g.cpg))(g, x_cl.data_ptr<scalar_t>(), offset.data_ptr<scalar_t>(),
                                 has_mask ? mask->data_ptr<scalar_t>() : nullptr, g_col.data_ptr<scalar_t>(),
                                 want_col ? col->data_ptr<scalar_t>() : nullptr, want_x ? g_x_cl->data_ptr<scalar_t>() : nullptr,
                                 want_off ? g_off->data_ptr<scalar_t>() : nullptr,
                                 want_mask ? g_mask->data_ptr<scalar_t>() : nullptr, r0, r1, blocks);
  });
}

// The whole forward without bias: out (N, C_out, Ho*Wo) = weight_g (groups, C_out/groups, C/groups*taps) times
// the columns, chunk after chunk of `rows` output rows. One parallel region over the chunks: each thread
// writes a chunk's columns into its own buffer (the kernel runs serially inside the region) and multiplies
// them (single-threaded GEMM) into its rows of out, so threads meet once, not twice per chunk (which costs
// much when other jobs share the cores).
void deform_forward(const at::Tensor& x_cl, const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                    const at::Tensor& weight_g, at::Tensor& out, int64_t rows, int64_t kh, int64_t kw, int64_t sh,
                    int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  const Geometry g = make_geometry(x_cl, offset, kh, kw, sh, sw, ph, pw, dh, dw);
  check_tensor(x_cl, x_cl, "input");
  check_tensor(offset, x_cl, "offset");
  check_tensor(out, x_cl, "output");
  check_tensor(weight_g, x_cl, "weight");
  const bool has_mask = mask.has_value() && mask->defined();
  if (has_mask) check_tensor(*mask, x_cl, "mask");
  const int64_t groups = weight_g.size(0), opg = weight_g.size(1), kpg = weight_g.size(2);
  TORCH_CHECK(weight_g.dim() == 3 && groups * kpg == g.c() * g.taps(), "deform_conv native: weight shape");
  TORCH_CHECK(out.dim() == 3 && out.size(0) == g.n && out.size(1) == groups * opg && out.size(2) == g.ho * g.wo,
              "deform_conv native: output shape");
  TORCH_CHECK(rows > 0, "deform_conv native: rows per chunk");
  const int64_t chunks = (g.ho + rows - 1) / rows;
  const at::Tensor w = weight_g.detach();  // the pool's threads do not share the caller's no-grad mode
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    at::NoGradGuard no_grad;
    at::Tensor col = at::empty({g.n * g.c() * g.taps() * std::min(rows, g.ho) * g.wo}, x_cl.options());
    for (int64_t ci = begin; ci < end; ++ci) {
      const int64_t r0 = ci * rows, r1 = std::min(g.ho, r0 + rows), p = (r1 - r0) * g.wo;
      at::Tensor cv = col.narrow(0, 0, g.n * g.c() * g.taps() * p).view({g.n, groups, kpg, p});
      AT_DISPATCH_FLOATING_TYPES(x_cl.scalar_type(), "deform_forward", [&] {
        pick_im2col<scalar_t>(g.cpg)(g, x_cl.data_ptr<scalar_t>(), offset.data_ptr<scalar_t>(),
                                     has_mask ? mask->data_ptr<scalar_t>() : nullptr, cv.data_ptr<scalar_t>(), r0,
                                     r1);
      });
      for (int64_t n = 0; n < g.n; ++n) {
        for (int64_t gi = 0; gi < groups; ++gi) {
          at::Tensor o = out.select(0, n).narrow(0, gi * opg, opg).narrow(1, r0 * g.wo, p);
          at::mm_out(o, w.select(0, gi), cv.select(0, n).select(0, gi));
        }
      }
    }
  });
}

// The whole backward but the bias gradient, in one parallel region over chunks of `rows` output rows, as
// the forward: per chunk the column gradient (GEMM), one kernel pass (input/offset/mask gradients and the
// columns) and the weight gradient (GEMM). Chunks write disjoint rows of g_off / g_mask; the input and weight
// gradients are accumulated per thread (the caller's tensors for the first thread, zeroed copies for the
// others) and summed at the end. g_x_cl (padded like x_cl) and g_w (like weight_g) must be zero on entry.
void deform_backward(const at::Tensor& x_cl, const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                     const at::Tensor& weight_g, const at::Tensor& grad_out, const std::optional<at::Tensor>& g_x_cl,
                     const std::optional<at::Tensor>& g_off, const std::optional<at::Tensor>& g_mask,
                     const std::optional<at::Tensor>& g_w, int64_t rows, int64_t kh, int64_t kw, int64_t sh,
                     int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  const Geometry g = make_geometry(x_cl, offset, kh, kw, sh, sw, ph, pw, dh, dw);
  check_tensor(x_cl, x_cl, "input");
  check_tensor(offset, x_cl, "offset");
  check_tensor(grad_out, x_cl, "output gradient");
  check_tensor(weight_g, x_cl, "weight");
  const bool has_mask = mask.has_value() && mask->defined();
  if (has_mask) check_tensor(*mask, x_cl, "mask");
  const bool want_x = g_x_cl.has_value() && g_x_cl->defined();
  const bool want_off = g_off.has_value() && g_off->defined();
  const bool want_mask = g_mask.has_value() && g_mask->defined();
  const bool want_w = g_w.has_value() && g_w->defined();
  if (want_x) check_tensor(*g_x_cl, x_cl, "input gradient");
  if (want_x) TORCH_CHECK(g_x_cl->sizes() == x_cl.sizes(), "deform_conv native: input gradient shape");
  if (want_off) check_tensor(*g_off, x_cl, "offset gradient");
  if (want_off) TORCH_CHECK(g_off->sizes() == offset.sizes(), "deform_conv native: offset gradient shape");
  if (want_mask) check_tensor(*g_mask, x_cl, "mask gradient");
  if (want_mask) TORCH_CHECK(has_mask && g_mask->sizes() == mask->sizes(), "deform_conv native: mask gradient");
  if (want_w) check_tensor(*g_w, x_cl, "weight gradient");
  if (want_w) TORCH_CHECK(g_w->sizes() == weight_g.sizes(), "deform_conv native: weight gradient shape");
  const int64_t groups = weight_g.size(0), opg = weight_g.size(1), kpg = weight_g.size(2);
  TORCH_CHECK(weight_g.dim() == 3 && groups * kpg == g.c() * g.taps(), "deform_conv native: weight shape");
  TORCH_CHECK(grad_out.dim() == 3 && grad_out.size(0) == g.n && grad_out.size(1) == groups * opg &&
                  grad_out.size(2) == g.ho * g.wo, "deform_conv native: output gradient shape");
  TORCH_CHECK(rows > 0, "deform_conv native: rows per chunk");
  const bool sampling = want_x || want_off || want_mask;
  if (!sampling && !want_w) return;
  const int64_t chunks = (g.ho + rows - 1) / rows, threads = std::max<int64_t>(1, at::get_num_threads());
  const at::Tensor w = weight_g.detach(), go = grad_out.detach();  // the pool's threads do not share no-grad
  std::vector<at::Tensor> gx_acc(threads), gw_acc(threads);  // per thread; [0] are the outputs
  if (want_x) gx_acc[0] = *g_x_cl;
  if (want_w) gw_acc[0] = *g_w;
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    at::NoGradGuard no_grad;
    const int64_t slot = std::min<int64_t>(threads - 1, at::get_thread_num());
    if (want_x && !gx_acc[slot].defined()) gx_acc[slot] = at::zeros_like(*g_x_cl);
    if (want_w && !gw_acc[slot].defined()) gw_acc[slot] = at::zeros_like(*g_w);
    const int64_t size = g.n * g.c() * g.taps() * std::min(rows, g.ho) * g.wo;
    at::Tensor col = want_w ? at::empty({size}, x_cl.options()) : at::Tensor();
    at::Tensor gcol = sampling ? at::empty({size}, x_cl.options()) : at::Tensor();
    for (int64_t ci = begin; ci < end; ++ci) {
      const int64_t r0 = ci * rows, r1 = std::min(g.ho, r0 + rows), p = (r1 - r0) * g.wo;
      const int64_t len = g.n * g.c() * g.taps() * p;
      at::Tensor cv = want_w ? col.narrow(0, 0, len).view({g.n, groups, kpg, p}) : at::Tensor();
      at::Tensor gv = sampling ? gcol.narrow(0, 0, len).view({g.n, groups, kpg, p}) : at::Tensor();
      if (sampling) {
        for (int64_t n = 0; n < g.n; ++n)
          for (int64_t gi = 0; gi < groups; ++gi)
          {
            at::Tensor o = gv.select(0, n).select(0, gi);
            at::mm_out(o, w.select(0, gi).t(), go.select(0, n).narrow(0, gi * opg, opg).narrow(1, r0 * g.wo, p));
          }
      }
      AT_DISPATCH_FLOATING_TYPES(x_cl.scalar_type(), "deform_backward", [&] {
        if (sampling) {
          pick_col2im<scalar_t>(g.cpg)(g, x_cl.data_ptr<scalar_t>(), offset.data_ptr<scalar_t>(),
                                       has_mask ? mask->data_ptr<scalar_t>() : nullptr, gv.data_ptr<scalar_t>(),
                                       want_w ? cv.data_ptr<scalar_t>() : nullptr,
                                       want_x ? gx_acc[slot].data_ptr<scalar_t>() : nullptr,
                                       want_off ? g_off->data_ptr<scalar_t>() : nullptr,
                                       want_mask ? g_mask->data_ptr<scalar_t>() : nullptr, r0, r1, 1);
        } else {
          pick_im2col<scalar_t>(g.cpg)(g, x_cl.data_ptr<scalar_t>(), offset.data_ptr<scalar_t>(),
                                       has_mask ? mask->data_ptr<scalar_t>() : nullptr, cv.data_ptr<scalar_t>(),
                                       r0, r1);
        }
      });
      if (want_w) {
        for (int64_t n = 0; n < g.n; ++n)
          for (int64_t gi = 0; gi < groups; ++gi)
            gw_acc[slot].select(0, gi).addmm_(go.select(0, n).narrow(0, gi * opg, opg).narrow(1, r0 * g.wo, p),
                                              cv.select(0, n).select(0, gi).t());
      }
    }
  });
  at::NoGradGuard no_grad;
  for (int64_t t = 1; t < threads; ++t) {
    if (want_x && gx_acc[t].defined()) gx_acc[0].add_(gx_acc[t]);
    if (want_w && gw_acc[t].defined()) gw_acc[0].add_(gw_acc[t]);
  }
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Native CPU kernels of the modulated deformable convolution (workbench.ops.deform_conv_native)";
  m.def("deform_im2col", &deform_im2col, "masked deformable column matrix of output rows [r0, r1)");
  m.def("deform_forward", &deform_forward, "output without bias, chunks of `rows` output rows in one parallel region");
  m.def("deform_backward", &deform_backward,
        "input (padded), offset, mask and weight gradients, chunks of `rows` output rows in one parallel region");
  m.def("deform_col2im_grad", &deform_col2im_grad,
        "columns, input (accumulated), offset and mask gradients of output rows [r0, r1) from the column "
        "gradient");
}
