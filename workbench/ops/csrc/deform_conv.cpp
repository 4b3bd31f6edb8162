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
// The input is passed channels-last per deformable group and padded by one zero pixel on every side,
// x_cl (N, dg, H+2, W+2, C/dg): the group's channels at one pixel are contiguous, so a sample reads four
// short vectors and its bilinear weights are computed once for all of the group's channels, and a corner
// outside the frame reads the zero border instead of being tested (a sample outside the frame gets weights
// 0). Two kernels, both for output rows [r0, r1) of every image
// (the Python side chunks the rows):
//   deform_im2col: the masked column matrix col (N, C*kh*kw, (r1-r0)*Wo), row c*kh*kw + k, i.e. the
//       (channel, tap) order of weight.view(C_out, -1).
//   deform_col2im_grad: from the column gradient g_col (same layout) the input gradient (accumulated into
//       g_x_cl, laid out as x_cl, border included; the four corners scattered), the offset gradient (derivative of the
//       bilinear weights w.r.t. y and x, summed over the group's channels, times the mask) and the mask
//       gradient (sum over the group's channels of g_col times the unmasked sample), written into rows
//       [r0, r1) of g_off / g_mask. Work is split over (image, deformable group, block of the group's
//       channels): no two tasks write the same element of g_x_cl, and the blocks of one group (only when
//       N*dg is below the thread count) add their partial offset/mask gradients afterwards.
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
}  // namespace

namespace {

struct Geometry {
  int64_t n, dg, h, w, cpg, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t taps() const { return kh * kw; }
  int64_t c() const { return dg * cpg; }
  int64_t pw2() const { return w + 2; }                       // padded row length (pixels)
  int64_t plane() const { return (h + 2) * (w + 2) * cpg; }  // one group's padded plane (elements)
};

// The bilinear samples of one output row of one tap: per pixel the index of the top-left corner's pixel
// in the group's padded plane (times C/dg: its element offset) and the four corner weights (hy*hx, hy*lx, ly*hx, ly*lx; all 0 for a sample
// outside the frame, whose corner offset is then 0, a border pixel), and the fractional parts ly, lx.
// Written by plain branch-free loops over the row, which the compiler vectorises.
template <typename scalar_t>
struct RowSamples {
  std::vector<int32_t> base;
  std::vector<scalar_t> w0, w1, w2, w3, ly, lx;
  explicit RowSamples(int64_t wo) : base(wo), w0(wo), w1(wo), w2(wo), w3(wo), ly(wo), lx(wo) {}
};

// MASK: the corner weights are multiplied by m (the forward's modulation).
template <typename scalar_t, bool MASK>
inline void row_samples_impl(const scalar_t* __restrict m, int32_t* __restrict base, scalar_t* __restrict w0, scalar_t* __restrict w1,
                             scalar_t* __restrict w2, scalar_t* __restrict w3, scalar_t* __restrict lyp,
                             scalar_t* __restrict lxp, const scalar_t* __restrict dy,
                             const scalar_t* __restrict dx, scalar_t by, scalar_t bxf, scalar_t sw, scalar_t H,
                             scalar_t W, int32_t pw2, int32_t wo) {
  const scalar_t pw2f = static_cast<scalar_t>(pw2);
  for (int32_t ox = 0; ox < wo; ++ox) {
    scalar_t y = by + dy[ox];
    scalar_t x = bxf + static_cast<scalar_t>(ox) * sw + dx[ox];
    const bool in = (y > scalar_t(-1)) & (y < H) & (x > scalar_t(-1)) & (x < W);  // false for NaN
    y = in ? y : scalar_t(0);
    x = in ? x : scalar_t(0);
    // floor for y > -1: truncation, minus one below zero (kept in floating point: no integer multiplies,
    // which SSE2 lacks; the padded pixel index below is exact while (H+2)*(W+2) < 2^24)
    scalar_t fy = static_cast<scalar_t>(static_cast<int32_t>(y)), fx = static_cast<scalar_t>(static_cast<int32_t>(x));
    fy -= fy > y ? scalar_t(1) : scalar_t(0);
    fx -= fx > x ? scalar_t(1) : scalar_t(0);
    const scalar_t ly = y - fy, lx = x - fx;
    const scalar_t hy = scalar_t(1) - ly, hx = scalar_t(1) - lx;
    const scalar_t keep = (in ? scalar_t(1) : scalar_t(0)) * (MASK ? m[ox] : scalar_t(1));  // unconditional load: vectorises
    // padded coordinates: pixel (y, x) of the frame is (y + 1, x + 1) of the padded plane
    base[ox] = in ? static_cast<int32_t>((fy + scalar_t(1)) * pw2f + (fx + scalar_t(1))) : 0;
    w0[ox] = keep * hy * hx;
    w1[ox] = keep * hy * lx;
    w2[ox] = keep * ly * hx;
    w3[ox] = keep * ly * lx;
    lyp[ox] = ly;
    lxp[ox] = lx;
  }
}

// m: the modulation of the row (weights multiplied by it), or nullptr.
template <typename scalar_t>
inline void row_samples(RowSamples<scalar_t>& rs, const Geometry& g, scalar_t by, int64_t bx, const scalar_t* dy,
                        const scalar_t* dx, const scalar_t* m = nullptr) {
  (m != nullptr ? row_samples_impl<scalar_t, true> : row_samples_impl<scalar_t, false>)(m, rs.base.data(), rs.w0.data(), rs.w1.data(), rs.w2.data(), rs.w3.data(), rs.ly.data(),
                   rs.lx.data(), dy, dx, by, static_cast<scalar_t>(bx), static_cast<scalar_t>(g.sw),
                   static_cast<scalar_t>(g.h), static_cast<scalar_t>(g.w), static_cast<int32_t>(g.pw2()),
                   static_cast<int32_t>(g.wo));
}

// CPG > 0: channels per group known at compile time (the channel loops unroll and vectorise); 0: g.cpg.
// xp: padded channels-last input (N, dg, H+2, W+2, cpg) with a zero border.
template <typename scalar_t, int CPG>
void im2col_kernel(const Geometry& g, const scalar_t* xp, const scalar_t* op, const scalar_t* mp, scalar_t* cp,
                   int64_t r0, int64_t r1) {
  const int64_t rows = r1 - r0, taps = g.taps(), plane = g.ho * g.wo, gplane = g.plane();
  const int64_t cpg = CPG > 0 ? CPG : g.cpg, colrow = rows * g.wo, down = g.pw2() * cpg;
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
          for (int64_t c4 = 0; c4 < CPG; c4 += 4) {
            __m128 r[4];
            for (int j = 0; j < 4; ++j) {
              const float* q = src + rs.base[ox + j] * CPG + c4;
              __m128 a = _mm_mul_ps(_mm_set1_ps(rs.w0[ox + j]), _mm_loadu_ps(q));
              a = _mm_add_ps(a, _mm_mul_ps(_mm_set1_ps(rs.w1[ox + j]), _mm_loadu_ps(q + CPG)));
              a = _mm_add_ps(a, _mm_mul_ps(_mm_set1_ps(rs.w2[ox + j]), _mm_loadu_ps(q + down)));
              r[j] = _mm_add_ps(a, _mm_mul_ps(_mm_set1_ps(rs.w3[ox + j]), _mm_loadu_ps(q + down + CPG)));
            }
            _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
            for (int c = 0; c < 4; ++c) _mm_storeu_ps(dst + (c4 + c) * stride + ox, r[c]);
          }
        }
      }
#endif
      for (; ox < g.wo; ++ox) {
        const scalar_t* p = src + rs.base[ox] * cpg;
        const scalar_t w0 = rs.w0[ox], w1 = rs.w1[ox], w2 = rs.w2[ox], w3 = rs.w3[ox];
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
                   const scalar_t* gp, scalar_t* colp, scalar_t* gxp, scalar_t* gop, scalar_t* gmp, int64_t r0, int64_t r1,
                   int64_t blocks) {
  const int64_t rows = r1 - r0, taps = g.taps(), plane = g.ho * g.wo, gplane = g.plane();
  const int64_t cpg = CPG > 0 ? CPG : g.cpg, colrow = rows * g.wo, down = g.pw2() * cpg;
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
          row_samples(rs, g, static_cast<scalar_t>(oy * g.sh - g.ph + (k / g.kw) * g.dh),
                      (k % g.kw) * g.dw - g.pw, dy, dy + plane);
          const scalar_t* m = mp != nullptr ? mp + (n * g.dg * taps + ch) * plane + oy * g.wo : nullptr;
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
          // offset / mask gradients of pixel ox from the sums over the block's channels of g_col times
          // S (the unmasked sample), Y (its derivative w.r.t. y) and X (w.r.t. x)
          auto finish = [&](int64_t ox, scalar_t fm, scalar_t fy, scalar_t fx) {
            const scalar_t mm = m != nullptr ? m[ox] : scalar_t(1);
            // a sample outside has weights 0 (its fractional parts are those of a stand-in position)
            const scalar_t in = (rs.w0[ox] + rs.w1[ox] + rs.w2[ox] + rs.w3[ox]) != scalar_t(0) ? 1 : 0;
            if (oy_out != nullptr) {
              // blocks > 1: partial sums, the mask applied in the reduction below
              oy_out[ox] = blocks > 1 ? in * fy : in * mm * fy;
              ox_out[ox] = blocks > 1 ? in * fx : in * mm * fx;
            }
            if (m_out != nullptr) m_out[ox] = fm;
          };
          int64_t ox = 0;
#ifdef __SSE2__
          if constexpr (std::is_same_v<scalar_t, float> && CPG > 0 && CPG % 4 == 0) {
            // four pixels at a time: the column gradient of 4 channels x 4 pixels is read as rows and
            // transposed to one vector of channels per pixel; corner updates and products are such vectors,
            // the columns are transposed back for their store, and the channel sums of g_col*S, g_col*Y,
            // g_col*X come out of 4x4 transposes as vectors over the 4 pixels
            const int64_t stride = taps * colrow;
            // Per pixel, with t0 = x1 - x0, t1 = x3 - x2, top = x0 + lx*t0, bot = x2 + lx*t1 (x_q the
            // corners' channel vectors): S = top + ly*(bot - top), dS/dy = bot - top, dS/dx = t0 + ly*(t1 - t0).
            // A sample outside has ly = lx = 0 and reads the zero border, so S and both derivatives are 0;
            // only its input-gradient scatter needs the in-frame flag.
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
              const __m128 mv = m != nullptr ? _mm_loadu_ps(m + ox) : _mm_set1_ps(1.0f);
              // masked, and 0 outside the frame (w0 + w1 + w2 + w3 is 1 inside, 0 outside)
              const __m128 wsum = _mm_add_ps(_mm_add_ps(_mm_loadu_ps(rs.w0.data() + ox), _mm_loadu_ps(rs.w1.data() + ox)),
                                             _mm_add_ps(_mm_loadu_ps(rs.w2.data() + ox), _mm_loadu_ps(rs.w3.data() + ox)));
              const __m128 mkv = _mm_and_ps(mv, _mm_cmpneq_ps(wsum, _mm_setzero_ps()));
              alignas(16) float mk[4];
              _mm_store_ps(mk, mkv);
              for (int64_t c4 = 0; c4 < CPG; c4 += 4) {
                __m128 gv[4], cv[4];
                for (int c = 0; c < 4; ++c) gv[c] = _mm_loadu_ps(gcol + (c4 + c) * stride + ox);
                _MM_TRANSPOSE4_PS(gv[0], gv[1], gv[2], gv[3]);  // gv[j]: channels c4.. of pixel ox + j
                for (int j = 0; j < 4; ++j) {
                  const int64_t at = rs.base[ox + j] * CPG + c4;
                  const float* pp = src + at;
                  const __m128 ly = lane(lyv, j), lx = lane(lxv, j);
                  if (want_col || want_om) {
                    const __m128 x0 = _mm_loadu_ps(pp), x1 = _mm_loadu_ps(pp + CPG);
                    const __m128 x2 = _mm_loadu_ps(pp + down), x3 = _mm_loadu_ps(pp + down + CPG);
                    const __m128 t0 = _mm_sub_ps(x1, x0), t1 = _mm_sub_ps(x3, x2);
                    const __m128 top = _mm_add_ps(x0, _mm_mul_ps(lx, t0)), bot = _mm_add_ps(x2, _mm_mul_ps(lx, t1));
                    const __m128 dy = _mm_sub_ps(bot, top);
                    const __m128 sv = _mm_add_ps(top, _mm_mul_ps(ly, dy));
                    cv[j] = _mm_mul_ps(sv, lane(mv, j));
                    aS[j] = _mm_add_ps(aS[j], _mm_mul_ps(gv[j], sv));
                    if (want_om) {
                      const __m128 dx = _mm_add_ps(t0, _mm_mul_ps(ly, _mm_sub_ps(t1, t0)));
                      aY[j] = _mm_add_ps(aY[j], _mm_mul_ps(gv[j], dy));
                      aX[j] = _mm_add_ps(aX[j], _mm_mul_ps(gv[j], dx));
                    }
                  }
                  if (gsrc != nullptr) {
                    // corners: (1-ly)(1-lx), (1-ly)lx, ly(1-lx), ly*lx, times g_col * mask
                    float* d = gsrc + at;
                    const __m128 gm = _mm_mul_ps(gv[j], _mm_set1_ps(mk[j]));
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
                if (oy_out != nullptr) {  // one channel block here: the mask applies now
                  _mm_storeu_ps(oy_out + ox, _mm_mul_ps(mkv, fy));
                  _mm_storeu_ps(ox_out + ox, _mm_mul_ps(mkv, fx));
                }
                if (m_out != nullptr) _mm_storeu_ps(m_out + ox, fm);
              }
            }
          }
#endif
          for (; ox < g.wo; ++ox) {
            const scalar_t w0 = rs.w0[ox], w1 = rs.w1[ox], w2 = rs.w2[ox], w3 = rs.w3[ox];
            const scalar_t mm = m != nullptr ? m[ox] : scalar_t(1);
            const scalar_t ly = rs.ly[ox], lx = rs.lx[ox];
            for (int64_t c = 0; c < nc; ++c) gc[c] = gcol[c * taps * colrow + ox];
            const int64_t at = rs.base[ox] * cpg;
            if (gsrc != nullptr) {
              scalar_t* d = gsrc + at;
              const scalar_t u0 = w0 * mm, u1 = w1 * mm, u2 = w2 * mm, u3 = w3 * mm;
              for (int64_t c = 0; c < nc; ++c) {
                d[c] += u0 * gc[c];
                d[cpg + c] += u1 * gc[c];
                d[down + c] += u2 * gc[c];
                d[down + cpg + c] += u3 * gc[c];
              }
            }
            if (want_om || want_col) {
              const scalar_t* p = src + at;
              scalar_t fm = 0, fy = 0, fx = 0;
              for (int64_t c = 0; c < nc; ++c) {
                const scalar_t x0 = p[c], x1 = p[cpg + c], x2 = p[down + c], x3 = p[down + cpg + c];
                const scalar_t sv = w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
                if (want_col) colo[c * taps * colrow + ox] = mm * sv;
                fm += gc[c] * sv;
                fy += gc[c] * ((scalar_t(1) - lx) * (x2 - x0) + lx * (x3 - x1));
                fx += gc[c] * ((scalar_t(1) - ly) * (x1 - x0) + ly * (x3 - x2));
              }
              if (want_om) finish(ox, fm, fy, fx);
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
        const scalar_t mm = mp != nullptr ? mp[(n * g.dg * taps + ch) * plane + px] : scalar_t(1);
        if (gop != nullptr) {
          gop[(n * 2 * g.dg * taps + 2 * ch) * plane + px] = mm * fy;
          gop[(n * 2 * g.dg * taps + 2 * ch + 1) * plane + px] = mm * fx;
        }
        if (gmp != nullptr) gmp[(n * g.dg * taps + ch) * plane + px] = fm;
      }
    }
  });
}

Geometry make_geometry(const at::Tensor& x_cl, const at::Tensor& offset, int64_t kh, int64_t kw, int64_t sh,
                       int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  TORCH_CHECK(x_cl.dim() == 5 && offset.dim() == 4 && x_cl.size(2) > 2 && x_cl.size(3) > 2,
              "deform_conv native: input must be padded (N, dg, H+2, W+2, C/dg) and offset 4-D");
  Geometry g{x_cl.size(0), x_cl.size(1), x_cl.size(2) - 2, x_cl.size(3) - 2, x_cl.size(4), offset.size(2),
             offset.size(3), kh, kw, sh, sw, ph, pw, dh, dw};
  TORCH_CHECK((g.h + 2) * (g.w + 2) < (int64_t(1) << 24), "deform_conv native: more than 2^24 padded pixels");
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

// x_cl: (N, dg, H+2, W+2, C/dg), zero border; col: (N, C*taps, (r1-r0)*Wo), written entirely.
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

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Native CPU kernels of the modulated deformable convolution (workbench.ops.deform_conv_native)";
  m.def("deform_im2col", &deform_im2col, "masked deformable column matrix of output rows [r0, r1)");
  m.def("deform_col2im_grad", &deform_col2im_grad,
        "columns, input (accumulated), offset and mask gradients of output rows [r0, r1) from the column "
        "gradient");
}
