// Native CPU kernels of the modulated deformable convolution (DCNv2), written for this workbench from the
// operator's definition (Zhu et al., CVPR 2019, eq. 3):
//
//     y(p) = sum_k w_k * x(p + p_k + dp_k) * m_k
//
// Layout and sampling rule: see workbench/ops/deform_conv.py (the same as torchvision.ops.deform_conv2d):
//   input  (N, C, H, W); offset (N, 2*dg*kh*kw, Ho, Wo), channel 2*(g*kh*kw + k) = dy, the next one = dx;
//   mask   (N, dg*kh*kw, Ho, Wo) or none (DCNv1, all ones); channel c belongs to group c / (C / dg).
//   A sample at (y, x) is bilinear over the four neighbours (y0, x0), (y0, x0+1), (y0+1, x0), (y0+1, x0+1)
//   with y0 = floor(y), x0 = floor(x); a neighbour outside the frame contributes 0, so a sample with
//   y <= -1, y >= H, x <= -1 or x >= W (or a non-finite coordinate) is exactly 0, with zero gradients.
//
// Two kernels, both for output rows [r0, r1) of every image (the Python side chunks the rows):
//   deform_im2col: the masked column matrix col (N, C*kh*kw, (r1-r0)*Wo), row c*kh*kw + k, i.e. the
//       (channel, tap) order of weight.view(C_out, -1); the bilinear weights of a (n, group, tap, pixel)
//       are computed once and applied to every channel of the group.
//   deform_col2im_grad: from the column gradient g_col (same layout) the input gradient (accumulated into
//       g_x, the four corners scattered), the offset gradient (derivative of the bilinear weights w.r.t. y
//       and x, summed over the group's channels, times the mask) and the mask gradient (sum over the
//       group's channels of g_col times the unmasked sample), written into rows [r0, r1) of g_off/g_mask.
//       Work is split over (image, deformable group, block of the group's channels): no two tasks write the
//       same element of g_x, and blocks of one group add partial offset/mask gradients afterwards.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

namespace {

struct Geometry {
  int64_t n, c, h, w, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw, dg;
  int64_t taps() const { return kh * kw; }
  int64_t cpg() const { return c / dg; }  // channels per deformable group
};

// Corner indices (into one H*W plane) and bilinear weights of the samples of one output row segment.
// Corners outside the frame get weight 0 and index 0 (never read with a non-zero weight; the value at
// index 0 is multiplied by 0, so a non-finite input there would leak - inputs are assumed finite).
template <typename scalar_t>
struct RowSamples {
  std::vector<int64_t> idx[4];
  std::vector<scalar_t> wt[4];
  std::vector<scalar_t> ly, lx;     // fractional parts (for the offset gradient)
  std::vector<uint8_t> valid[4];    // corner inside the frame
  explicit RowSamples(int64_t wo) : ly(wo), lx(wo) {
    for (int q = 0; q < 4; ++q) {
      idx[q].resize(wo);
      wt[q].resize(wo);
      valid[q].resize(wo);
    }
  }
};

// Fill `rs` for output row oy, tap (i, j), from the offset planes (dy, dx) of that tap (rows of Wo).
template <typename scalar_t>
inline void row_samples(RowSamples<scalar_t>& rs, const Geometry& g, int64_t oy, int64_t i, int64_t j,
                        const scalar_t* dy, const scalar_t* dx) {
  const scalar_t base_y = static_cast<scalar_t>(oy * g.sh - g.ph + i * g.dh);
  const scalar_t H = static_cast<scalar_t>(g.h), W = static_cast<scalar_t>(g.w);
  for (int64_t ox = 0; ox < g.wo; ++ox) {
    const scalar_t y = base_y + dy[ox];
    const scalar_t x = static_cast<scalar_t>(ox * g.sw - g.pw + j * g.dw) + dx[ox];
    if (!(y > scalar_t(-1) && y < H && x > scalar_t(-1) && x < W)) {  // also false for NaN
      for (int q = 0; q < 4; ++q) {
        rs.idx[q][ox] = 0;
        rs.wt[q][ox] = 0;
        rs.valid[q][ox] = 0;
      }
      rs.ly[ox] = 0;
      rs.lx[ox] = 0;
      continue;
    }
    const scalar_t fy = std::floor(y), fx = std::floor(x);
    const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
    const scalar_t ly = y - fy, lx = x - fx, hy = scalar_t(1) - ly, hx = scalar_t(1) - lx;
    const bool vy0 = y0 >= 0, vy1 = y0 + 1 < g.h, vx0 = x0 >= 0, vx1 = x0 + 1 < g.w;
    const bool v[4] = {vy0 && vx0, vy0 && vx1, vy1 && vx0, vy1 && vx1};
    const int64_t id[4] = {y0 * g.w + x0, y0 * g.w + x0 + 1, (y0 + 1) * g.w + x0, (y0 + 1) * g.w + x0 + 1};
    const scalar_t wq[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
    for (int q = 0; q < 4; ++q) {
      rs.valid[q][ox] = v[q];
      rs.idx[q][ox] = v[q] ? id[q] : 0;
      rs.wt[q][ox] = v[q] ? wq[q] : scalar_t(0);
    }
    rs.ly[ox] = ly;
    rs.lx[ox] = lx;
  }
}

Geometry make_geometry(const at::Tensor& x, const at::Tensor& offset, int64_t kh, int64_t kw, int64_t sh,
                       int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t dg) {
  TORCH_CHECK(x.dim() == 4 && offset.dim() == 4, "deform_conv native: input and offset must be 4-D");
  Geometry g{x.size(0), x.size(1), x.size(2), x.size(3), offset.size(2), offset.size(3),
             kh, kw, sh, sw, ph, pw, dh, dw, dg};
  TORCH_CHECK(dg > 0 && g.c % dg == 0, "deform_conv native: channels not divisible by deformable groups");
  TORCH_CHECK(offset.size(0) == g.n && offset.size(1) == 2 * dg * kh * kw, "deform_conv native: offset shape");
  return g;
}

void check_tensor(const at::Tensor& t, const at::Tensor& like, const char* name) {
  TORCH_CHECK(t.device().is_cpu(), "deform_conv native: ", name, " must be on the CPU");
  TORCH_CHECK(t.is_contiguous(), "deform_conv native: ", name, " must be contiguous");
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), "deform_conv native: ", name, " has another dtype");
}

}  // namespace

// col: (N, C*taps, (r1-r0)*Wo), written entirely.
void deform_im2col(const at::Tensor& x, const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                   at::Tensor& col, int64_t r0, int64_t r1, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                   int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t dg) {
  const Geometry g = make_geometry(x, offset, kh, kw, sh, sw, ph, pw, dh, dw, dg);
  check_tensor(x, x, "input");
  check_tensor(offset, x, "offset");
  check_tensor(col, x, "columns");
  const bool has_mask = mask.has_value() && mask->defined();
  if (has_mask) check_tensor(*mask, x, "mask");
  TORCH_CHECK(0 <= r0 && r0 < r1 && r1 <= g.ho, "deform_conv native: bad row range");
  const int64_t rows = r1 - r0, taps = g.taps(), cpg = g.cpg(), hw = g.h * g.w, plane = g.ho * g.wo;
  TORCH_CHECK(col.numel() == g.n * g.c * taps * rows * g.wo, "deform_conv native: columns shape");
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "deform_im2col", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* op = offset.data_ptr<scalar_t>();
    const scalar_t* mp = has_mask ? mask->data_ptr<scalar_t>() : nullptr;
    scalar_t* cp = col.data_ptr<scalar_t>();
    // one task = (n, group, tap, output row)
    const int64_t tasks = g.n * g.dg * taps * rows;
    at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
      RowSamples<scalar_t> rs(g.wo);
      for (int64_t t = begin; t < end; ++t) {
        const int64_t r = t % rows, k = (t / rows) % taps, gi = (t / (rows * taps)) % g.dg;
        const int64_t n = t / (rows * taps * g.dg), oy = r0 + r;
        const int64_t ch = gi * taps + k;  // offset pair / mask channel
        const scalar_t* dy = op + ((n * 2 * g.dg * taps + 2 * ch) * plane) + oy * g.wo;
        const scalar_t* dx = dy + plane;
        row_samples(rs, g, oy, k / g.kw, k % g.kw, dy, dx);
        if (mp != nullptr) {
          const scalar_t* m = mp + (n * g.dg * taps + ch) * plane + oy * g.wo;
          for (int q = 0; q < 4; ++q)
            for (int64_t ox = 0; ox < g.wo; ++ox) rs.wt[q][ox] *= m[ox];
        }
        const int64_t* i0 = rs.idx[0].data(); const int64_t* i1 = rs.idx[1].data();
        const int64_t* i2 = rs.idx[2].data(); const int64_t* i3 = rs.idx[3].data();
        const scalar_t* w0 = rs.wt[0].data(); const scalar_t* w1 = rs.wt[1].data();
        const scalar_t* w2 = rs.wt[2].data(); const scalar_t* w3 = rs.wt[3].data();
        for (int64_t cl = 0; cl < cpg; ++cl) {
          const int64_t c = gi * cpg + cl;
          const scalar_t* src = xp + (n * g.c + c) * hw;
          scalar_t* dst = cp + ((n * g.c + c) * taps + k) * rows * g.wo + r * g.wo;
          for (int64_t ox = 0; ox < g.wo; ++ox)
            dst[ox] = w0[ox] * src[i0[ox]] + w1[ox] * src[i1[ox]] + w2[ox] * src[i2[ox]] + w3[ox] * src[i3[ox]];
        }
      }
    });
  });
}

// g_col: (N, C*taps, (r1-r0)*Wo). g_x (N, C, H, W) is accumulated into; rows [r0, r1) of g_off and g_mask
// are overwritten. Any of the three outputs may be None (not wanted).
void deform_col2im_grad(const at::Tensor& x, const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                        const at::Tensor& g_col, const std::optional<at::Tensor>& g_x,
                        const std::optional<at::Tensor>& g_off, const std::optional<at::Tensor>& g_mask,
                        int64_t r0, int64_t r1, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                        int64_t pw, int64_t dh, int64_t dw, int64_t dg) {
  const Geometry g = make_geometry(x, offset, kh, kw, sh, sw, ph, pw, dh, dw, dg);
  check_tensor(x, x, "input");
  check_tensor(offset, x, "offset");
  check_tensor(g_col, x, "column gradient");
  const bool has_mask = mask.has_value() && mask->defined();
  if (has_mask) check_tensor(*mask, x, "mask");
  const bool want_x = g_x.has_value() && g_x->defined();
  const bool want_off = g_off.has_value() && g_off->defined();
  const bool want_mask = g_mask.has_value() && g_mask->defined();
  if (want_x) check_tensor(*g_x, x, "input gradient");
  if (want_off) check_tensor(*g_off, x, "offset gradient");
  if (want_mask) check_tensor(*g_mask, x, "mask gradient");
  TORCH_CHECK(!want_mask || has_mask, "deform_conv native: mask gradient without a mask");
  TORCH_CHECK(0 <= r0 && r0 < r1 && r1 <= g.ho, "deform_conv native: bad row range");
  const int64_t rows = r1 - r0, taps = g.taps(), cpg = g.cpg(), hw = g.h * g.w, plane = g.ho * g.wo;
  TORCH_CHECK(g_col.numel() == g.n * g.c * taps * rows * g.wo, "deform_conv native: column gradient shape");
  if (!want_x && !want_off && !want_mask) return;
  const bool want_om = want_off || want_mask;
  // channel blocks per group: enough tasks for every thread when N*dg is small
  const int64_t threads = at::get_num_threads();
  int64_t blocks = 1;
  if (want_x && g.n * g.dg < threads) blocks = std::min<int64_t>(cpg, (threads + g.n * g.dg - 1) / (g.n * g.dg));
  const int64_t per_block = (cpg + blocks - 1) / blocks;
  blocks = (cpg + per_block - 1) / per_block;
  // partial offset/mask gradients per block: (blocks, N, dg, taps, 3, rows, Wo) = (gy, gx, gm)
  const int64_t part_len = g.n * g.dg * taps * 3 * rows * g.wo;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "deform_col2im_grad", [&] {
    std::vector<scalar_t> part(want_om ? static_cast<size_t>(blocks * part_len) : 0);
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* op = offset.data_ptr<scalar_t>();
    const scalar_t* mp = has_mask ? mask->data_ptr<scalar_t>() : nullptr;
    const scalar_t* gp = g_col.data_ptr<scalar_t>();
    scalar_t* gxp = want_x ? g_x->data_ptr<scalar_t>() : nullptr;
    const int64_t tasks = g.n * g.dg * blocks;
    at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
      RowSamples<scalar_t> rs(g.wo);
      std::vector<scalar_t> mw(g.wo);
      for (int64_t t = begin; t < end; ++t) {
        const int64_t b = t % blocks, gi = (t / blocks) % g.dg, n = t / (blocks * g.dg);
        const int64_t c_lo = gi * cpg + b * per_block, c_hi = std::min(gi * cpg + cpg, c_lo + per_block);
        for (int64_t k = 0; k < taps; ++k) {
          const int64_t ch = gi * taps + k;
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t oy = r0 + r;
            const scalar_t* dy = op + ((n * 2 * g.dg * taps + 2 * ch) * plane) + oy * g.wo;
            row_samples(rs, g, oy, k / g.kw, k % g.kw, dy, dy + plane);
            const scalar_t* m = mp != nullptr ? mp + (n * g.dg * taps + ch) * plane + oy * g.wo : nullptr;
            for (int64_t ox = 0; ox < g.wo; ++ox) mw[ox] = m != nullptr ? m[ox] : scalar_t(1);
            scalar_t* acc = want_om ? part.data() + b * part_len + (((n * g.dg + gi) * taps + k) * 3 * rows + r) * g.wo
                                    : nullptr;  // gy at acc, gx at acc + rows*Wo, gm at acc + 2*rows*Wo
            if (acc != nullptr)
              for (int64_t ox = 0; ox < g.wo; ++ox) acc[ox] = acc[ox + rows * g.wo] = acc[ox + 2 * rows * g.wo] = 0;
            for (int64_t c = c_lo; c < c_hi; ++c) {
              const scalar_t* src = xp + (n * g.c + c) * hw;
              const scalar_t* gc = gp + ((n * g.c + c) * taps + k) * rows * g.wo + r * g.wo;
              if (gxp != nullptr) {
                scalar_t* dst = gxp + (n * g.c + c) * hw;
                for (int64_t ox = 0; ox < g.wo; ++ox) {
                  const scalar_t v = gc[ox] * mw[ox];
                  for (int q = 0; q < 4; ++q) dst[rs.idx[q][ox]] += v * rs.wt[q][ox];
                }
              }
              if (acc != nullptr) {
                for (int64_t ox = 0; ox < g.wo; ++ox) {
                  scalar_t v[4];
                  for (int q = 0; q < 4; ++q) v[q] = rs.valid[q][ox] ? src[rs.idx[q][ox]] : scalar_t(0);
                  const scalar_t ly = rs.ly[ox], lx = rs.lx[ox];
                  const scalar_t s = rs.wt[0][ox] * v[0] + rs.wt[1][ox] * v[1] + rs.wt[2][ox] * v[2] +
                                     rs.wt[3][ox] * v[3];
                  acc[ox] += gc[ox] * ((scalar_t(1) - lx) * (v[2] - v[0]) + lx * (v[3] - v[1]));
                  acc[ox + rows * g.wo] += gc[ox] * ((scalar_t(1) - ly) * (v[1] - v[0]) + ly * (v[3] - v[2]));
                  acc[ox + 2 * rows * g.wo] += gc[ox] * s;
                }
              }
            }
          }
        }
      }
    });
    if (!want_om) return;
    // sum the blocks' partials; write rows [r0, r1): offset = mask * (gy, gx), mask = gm
    scalar_t* gop = want_off ? g_off->data_ptr<scalar_t>() : nullptr;
    scalar_t* gmp = want_mask ? g_mask->data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, g.n * g.dg * taps, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t n = t / (g.dg * taps), ch = t % (g.dg * taps);
        for (int64_t i = 0; i < rows * g.wo; ++i) {
          scalar_t gy = 0, gx = 0, gm = 0;
          for (int64_t b = 0; b < blocks; ++b) {
            const scalar_t* a = part.data() + b * part_len + t * 3 * rows * g.wo;
            gy += a[i];
            gx += a[i + rows * g.wo];
            gm += a[i + 2 * rows * g.wo];
          }
          const int64_t at_px = r0 * g.wo + i;
          const scalar_t m = mp != nullptr ? mp[(n * g.dg * taps + ch) * plane + at_px] : scalar_t(1);
          if (gop != nullptr) {
            gop[(n * 2 * g.dg * taps + 2 * ch) * plane + at_px] = m * gy;
            gop[(n * 2 * g.dg * taps + 2 * ch + 1) * plane + at_px] = m * gx;
          }
          if (gmp != nullptr) gmp[(n * g.dg * taps + ch) * plane + at_px] = gm;
        }
      }
    });
  });
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Native CPU kernels of the modulated deformable convolution (workbench.ops.deform_conv_native)";
  m.def("deform_im2col", &deform_im2col, "masked deformable column matrix of output rows [r0, r1)");
  m.def("deform_col2im_grad", &deform_col2im_grad,
        "input (accumulated), offset and mask gradients of output rows [r0, r1) from the column gradient");
}
