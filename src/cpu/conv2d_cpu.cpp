// conv2d (NCHW, groups 1) on the CPU as im2col/col2im around the GEMM, one tile at a time. A
// tile is either G images side by side (col is CKK x G*HoWo), so that late layers with few
// output pixels still give the GEMM a wide matrix, or some output rows of one image, so that
// large early layers keep their col block in cache:
//   forward          Y   (O x G*HoWo)   = W (O x CKK) * col            (+ bias)
//   backward input   gcol (CKK x G*HoWo) = W^T * GY,  then col2im into grad_x
//   backward weight  gW  (O x CKK)     += GY * col^T
// Single-image tiles read and write the NCHW tensors in place; a 1x1 convolution with stride 1
// and no padding then needs no im2col at all (x[n], C x HW, is col).
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/cpu_utils.h"
#include "cpu/gemm_cpu.h"

namespace sadanet::cpu {
namespace {

struct ConvGeom {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo;
  Conv2dParams p;
  ConvGeom(const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& prm)
      : N(xs[0]), C(xs[1]), H(xs[2]), W(xs[3]), O(ws[0]), kh(ws[2]), kw(ws[3]), Ho(ys[2]), Wo(ys[3]), p(prm) {}
  int64_t ckk() const { return C * kh * kw; }
  int64_t hw() const { return H * W; }
  int64_t howo() const { return Ho * Wo; }
  double flops() const { return 2.0 * N * O * howo() * ckk(); }
  bool pointwise() const {
    return kh == 1 && kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
  }
};

// Output columns [lo, hi) whose input column ow*stride + off lies inside [0, size).
inline void valid_range(int64_t off, int64_t stride, int64_t size, int64_t out, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = (size - 1 - off) < 0 ? 0 : std::min<int64_t>(out, (size - 1 - off) / stride + 1);
  lo = std::min(lo, hi);
}

// col rows (row stride ld) for input channels [c0, c1) and output rows [oh0, oh1): row
// (c*kh + i)*kw + j holds x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] at column (oh - oh0)*Wo + ow
// (0 where that is padding).
template <class T>
void im2col(const ConvGeom& g, const T* x, T* col, int64_t ld, int64_t c0, int64_t c1, int64_t oh0, int64_t oh1) {
  const auto& p = g.p;
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * ld - oh0 * g.Wo;
        const int64_t off_w = j * p.dilation_w - p.pad_w;
        int64_t lo, hi;
        valid_range(off_w, p.stride_w, g.W, g.Wo, lo, hi);
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          T* r = row + oh * g.Wo;
          const int64_t ih = oh * p.stride_h - p.pad_h + i * p.dilation_h;
          if (ih < 0 || ih >= g.H) { std::fill(r, r + g.Wo, T(0)); continue; }
          std::fill(r, r + lo, T(0));
          std::fill(r + hi, r + g.Wo, T(0));
          const T* src = x + (c * g.H + ih) * g.W + off_w;
          if (p.stride_w == 1) std::memcpy(r + lo, src + lo, sizeof(T) * (hi - lo));
          else for (int64_t ow = lo; ow < hi; ++ow) r[ow] = src[ow * p.stride_w];
        }
      }
}

// The adjoint of im2col: x[c, ...] += col rows, for the same channel and row ranges.
template <class T>
void col2im(const ConvGeom& g, const T* col, int64_t ld, T* x, int64_t c0, int64_t c1, int64_t oh0, int64_t oh1) {
  const auto& p = g.p;
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = col + ((c * g.kh + i) * g.kw + j) * ld - oh0 * g.Wo;
        const int64_t off_w = j * p.dilation_w - p.pad_w;
        int64_t lo, hi;
        valid_range(off_w, p.stride_w, g.W, g.Wo, lo, hi);
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + i * p.dilation_h;
          if (ih < 0 || ih >= g.H) continue;
          const T* r = row + oh * g.Wo;
          T* dst = x + (c * g.H + ih) * g.W + off_w;
          if (p.stride_w == 1) for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += r[ow];
          else for (int64_t ow = lo; ow < hi; ++ow) dst[ow * p.stride_w] += r[ow];
        }
      }
}

// How the work is cut. `group` images share one GEMM (side by side); with group 1, an image's
// output rows go `rows` at a time when its whole col matrix would exceed kColBudget (bounds the
// scratch memory of large inputs). `split`: threads take whole groups (each GEMM single-threaded)
// instead of sharing every GEMM; on the shared 2-core machine the split measured faster and far
// more robust to other load (Eigen's threaded GEMM busy-waits on its peer), see bench/README.md.
struct Plan {
  int64_t group = 1, rows = 0;
  bool split = false;
};
constexpr double kColBudget = 8 << 20;  // bytes
constexpr int64_t kMinCols = 512;       // GEMM width worth grouping small images for

Plan make_plan(const ConvGeom& g, size_t elem_size) {
  Plan pl;
  const int threads = omp_get_max_threads();
  double col_budget = kColBudget;
  if (threads > 1 && !omp_in_parallel() && g.flops() >= 1e6 && g.N >= threads) {  // tiny: one thread
    pl.group = std::clamp<int64_t>(kMinCols / std::max<int64_t>(g.howo(), 1), 1, g.N / threads);
    while (pl.group > 1 && ((g.N + pl.group - 1) / pl.group) % threads != 0) --pl.group;
    const int64_t groups = (g.N + pl.group - 1) / pl.group;
    pl.split = groups % threads == 0 || groups >= 4 * threads;  // else imbalance: share the GEMMs
  }
  if (const char* env = std::getenv("SADANET_CONV_PLAN")) {  // "G,split[,col_kb]": for tuning only
    pl.group = std::clamp<int64_t>(std::atoll(env), 1, g.N);
    const char* c1 = std::strchr(env, ',');
    pl.split = c1 && c1[1] == '1' && !omp_in_parallel();
    const char* c2 = c1 ? std::strchr(c1 + 1, ',') : nullptr;
    if (c2) col_budget = 1024.0 * std::atof(c2 + 1);
  }
  pl.rows = g.Ho;
  if (pl.group == 1 && !g.pointwise()) {
    const double row_bytes = static_cast<double>(elem_size) * g.ckk() * g.Wo;
    pl.rows = std::clamp<int64_t>(static_cast<int64_t>(col_budget / row_bytes), 1, g.Ho);
  }
  return pl;
}

// Per-thread scratch kept between calls (slot 0: im2col/gather buffers; 1: gW partials):
// fresh multi-megabyte buffers would page-fault on every call. Not zeroed.
template <class T> T* scratch(int slot, int64_t elems) {
  thread_local std::unique_ptr<T[]> buf[2];
  thread_local int64_t cap[2] = {0, 0};
  if (elems > cap[slot]) {
    buf[slot].reset();
    buf[slot].reset(new T[static_cast<size_t>(elems)]);
    cap[slot] = elems;
  }
  return buf[slot].get();
}

// Images [n0, n0 + cnt), output rows [oh0, oh1): one GEMM's worth (cnt > 1 only with all rows).
struct Tile {
  int64_t n0, cnt, oh0, oh1;
  int64_t cols(const ConvGeom& g) const { return cnt * (oh1 - oh0) * g.Wo; }
  bool whole_image() const { return cnt == 1; }  // reads and writes NCHW in place
};

// fn(tile, scratch, first_tile_of_this_thread, thread). A thread takes all tiles of its groups
// in order, so the tiles of one image never run concurrently.
template <class T, class Fn> void for_each_tile(const ConvGeom& g, const Plan& pl, int64_t scratch_elems, Fn&& fn) {
  const int64_t groups = (g.N + pl.group - 1) / pl.group;
  auto run_group = [&](int64_t gi, T* buf, bool& first, int t) {
    const int64_t n0 = gi * pl.group, cnt = std::min(pl.group, g.N - n0);
    for (int64_t oh0 = 0; oh0 < g.Ho; oh0 += pl.rows) {
      fn(Tile{n0, cnt, oh0, std::min(g.Ho, oh0 + pl.rows)}, buf, first, t);
      first = false;
    }
  };
  if (pl.split) {
#pragma omp parallel
    {
      T* buf = scratch<T>(0, scratch_elems);
      bool first = true;
#pragma omp for schedule(static)
      for (int64_t gi = 0; gi < groups; ++gi) run_group(gi, buf, first, omp_get_thread_num());
    }
  } else {
    T* buf = scratch<T>(0, scratch_elems);
    bool first = true;
    for (int64_t gi = 0; gi < groups; ++gi) run_group(gi, buf, first, 0);
  }
}

// The tile's col matrix (CKK x cols, row stride cols); for pointwise convs its rows are x's.
template <class T> void build_col(const ConvGeom& g, const T* X, const Tile& tl, T* col) {
  const int64_t ld = tl.cols(g), per_image = (tl.oh1 - tl.oh0) * g.Wo;
  for (int64_t i = 0; i < tl.cnt; ++i) {
    const T* xn = X + (tl.n0 + i) * g.C * g.hw();
    parallel_for(g.C, 4, [&](int64_t c0, int64_t c1) {
      if (g.pointwise())
        for (int64_t c = c0; c < c1; ++c) std::memcpy(col + c * ld + i * g.hw(), xn + c * g.hw(), sizeof(T) * g.hw());
      else
        im2col(g, xn, col + i * per_image, ld, c0, c1, tl.oh0, tl.oh1);
    });
  }
}

// NCHW planes of images [n0, n0 + cnt) as one rows x cnt*len matrix (rows = channels).
template <class T> void gather_rows(const T* src, int64_t rows, int64_t len, int64_t n0, int64_t cnt, T* dst) {
  const int64_t ld = cnt * len;
  parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t i = 0; i < cnt; ++i)
      for (int64_t r = r0; r < r1; ++r)
        std::memcpy(dst + r * ld + i * len, src + ((n0 + i) * rows + r) * len, sizeof(T) * len);
  });
}

template <class T>
void forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  const ConvGeom g(x.shape(), w.shape(), y.shape(), p);
  const T *X = x.data<T>(), *Wt = w.data<T>(), *B = bias.defined() ? bias.data<T>() : nullptr;
  T* Y = y.data<T>();
  const Plan pl = make_plan(g, sizeof(T));
  const bool direct_in = pl.group == 1 && g.pointwise();
  const int64_t max_cols = pl.group * pl.rows * g.Wo;
  const int64_t col_elems = direct_in ? 0 : g.ckk() * max_cols, out_elems = pl.group == 1 ? 0 : g.O * max_cols;
  for_each_tile<T>(g, pl, col_elems + out_elems, [&](const Tile& tl, T* buf, bool, int) {
    const int64_t cols = tl.cols(g);
    if (!direct_in) build_col(g, X, tl, buf);
    GemmArgs ga;
    ga.m = g.O; ga.n = cols; ga.k = g.ckk();
    ga.lda = g.ckk(); ga.ldb = cols;
    const T* in = direct_in ? X + tl.n0 * g.C * g.hw() : buf;
    if (tl.whole_image()) {  // straight into y (the bias written first and accumulated onto)
      T* out = Y + tl.n0 * g.O * g.howo() + tl.oh0 * g.Wo;
      ga.ldc = g.howo();
      if (B) {
        for (int64_t o = 0; o < g.O; ++o) std::fill(out + o * g.howo(), out + o * g.howo() + cols, B[o]);
        ga.beta = 1.0;
      }
      gemm<T>(ga, Wt, in, out);
      return;
    }
    T* out = buf + col_elems;
    ga.ldc = cols;
    gemm<T>(ga, Wt, in, out);
    parallel_for(g.O, 16, [&](int64_t o0, int64_t o1) {  // scatter into NCHW, adding the bias
      for (int64_t i = 0; i < tl.cnt; ++i)
        for (int64_t o = o0; o < o1; ++o) {
          const T* src = out + o * cols + i * g.howo();
          T* dst = Y + ((tl.n0 + i) * g.O + o) * g.howo();
          const T b = B ? B[o] : T(0);
          for (int64_t s = 0; s < g.howo(); ++s) dst[s] = src[s] + b;
        }
    });
  });
}

template <class T>
void backward_input(const Tensor& gy, const Tensor& w, const Conv2dParams& p, Tensor& gx) {
  const ConvGeom g(gx.shape(), w.shape(), gy.shape(), p);
  const T *GY = gy.data<T>(), *Wt = w.data<T>();
  T* GX = gx.data<T>();
  const Plan pl = make_plan(g, sizeof(T));
  const bool direct_out = pl.group == 1 && g.pointwise();
  const int64_t max_cols = pl.group * pl.rows * g.Wo;
  const int64_t gy_elems = pl.group == 1 ? 0 : g.O * max_cols, gcol_elems = direct_out ? 0 : g.ckk() * max_cols;
  for_each_tile<T>(g, pl, gy_elems + gcol_elems, [&](const Tile& tl, T* buf, bool, int) {
    const int64_t cols = tl.cols(g);
    GemmArgs ga;
    ga.m = g.ckk(); ga.n = cols; ga.k = g.O; ga.trans_a = true;
    ga.lda = g.ckk(); ga.ldc = cols;
    const T* gyt = GY + tl.n0 * g.O * g.howo() + tl.oh0 * g.Wo;
    ga.ldb = g.howo();
    if (!tl.whole_image()) { gather_rows(GY, g.O, g.howo(), tl.n0, tl.cnt, buf); gyt = buf; ga.ldb = cols; }
    T* gcol = direct_out ? GX + tl.n0 * g.C * g.hw() : buf + gy_elems;
    gemm<T>(ga, Wt, gyt, gcol);
    if (direct_out) return;
    const int64_t per_image = (tl.oh1 - tl.oh0) * g.Wo;
    for (int64_t i = 0; i < tl.cnt; ++i) {
      T* gxn = GX + (tl.n0 + i) * g.C * g.hw();
      parallel_for(g.C, 4, [&](int64_t c0, int64_t c1) {
        if (g.pointwise()) {
          for (int64_t c = c0; c < c1; ++c) std::memcpy(gxn + c * g.hw(), gcol + c * cols + i * g.hw(), sizeof(T) * g.hw());
          return;
        }
        if (tl.oh0 == 0) std::fill(gxn + c0 * g.hw(), gxn + c1 * g.hw(), T(0));  // the image's first tile
        col2im(g, gcol + i * per_image, cols, gxn, c0, c1, tl.oh0, tl.oh1);
      });
    }
  });
}

template <class T>
void backward_weight(const Tensor& gy, const Tensor& x, const Conv2dParams& p, Tensor& gw) {
  const ConvGeom g(x.shape(), gw.shape(), gy.shape(), p);
  const T *GY = gy.data<T>(), *X = x.data<T>();
  T* GW = gw.data<T>();
  const int64_t wsize = g.O * g.ckk();
  const Plan pl = make_plan(g, sizeof(T));
  const bool direct_in = pl.group == 1 && g.pointwise();
  const int64_t max_cols = pl.group * pl.rows * g.Wo;
  const int64_t gy_elems = pl.group == 1 ? 0 : g.O * max_cols, col_elems = direct_in ? 0 : g.ckk() * max_cols;
  // Threads other than 0 accumulate into private copies of gW (this thread's scratch slot 1),
  // summed at the end.
  const int threads = pl.split ? omp_get_max_threads() : 1;
  T* partials = threads > 1 ? scratch<T>(1, (threads - 1) * wsize) : nullptr;
  std::vector<T*> partial(threads, GW);
  for (int t = 1; t < threads; ++t) partial[t] = partials + (t - 1) * wsize;
  std::vector<char> touched(threads, 0);
  for_each_tile<T>(g, pl, gy_elems + col_elems, [&](const Tile& tl, T* buf, bool first, int t) {
    const int64_t cols = tl.cols(g);
    GemmArgs ga;
    ga.m = g.O; ga.n = g.ckk(); ga.k = cols; ga.trans_b = true;
    ga.ldb = cols; ga.ldc = g.ckk();
    ga.beta = first ? 0.0 : 1.0;
    const T* gyt = GY + tl.n0 * g.O * g.howo() + tl.oh0 * g.Wo;
    ga.lda = g.howo();
    if (!tl.whole_image()) { gather_rows(GY, g.O, g.howo(), tl.n0, tl.cnt, buf); gyt = buf; ga.lda = cols; }
    T* col = buf + gy_elems;
    if (!direct_in) build_col(g, X, tl, col);
    gemm<T>(ga, gyt, direct_in ? X + tl.n0 * g.C * g.hw() : col, partial[t]);
    touched[t] = 1;
  });
  if (!touched[0]) std::fill(GW, GW + wsize, T(0));
  for (int t = 1; t < threads; ++t) {
    if (!touched[t]) continue;
    const T* src = partial[t];
    parallel_for(wsize, 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) GW[i] += src[i];
    });
  }
}

void conv2d_forward_kernel(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  dispatch_floating(x.dtype(), "conv2d_forward", [&]<class T>() { forward<T>(x, w, bias, p, y); });
}
void conv2d_backward_input_kernel(const Tensor& gy, const Tensor& w, const Conv2dParams& p, Tensor& gx) {
  dispatch_floating(gy.dtype(), "conv2d_backward_input", [&]<class T>() { backward_input<T>(gy, w, p, gx); });
}
void conv2d_backward_weight_kernel(const Tensor& gy, const Tensor& x, const Conv2dParams& p, Tensor& gw) {
  dispatch_floating(gy.dtype(), "conv2d_backward_weight", [&]<class T>() { backward_weight<T>(gy, x, p, gw); });
}

}  // namespace
}  // namespace sadanet::cpu

namespace sadanet {
SADANET_REGISTER_KERNEL(conv2d_forward, DeviceType::cpu, &cpu::conv2d_forward_kernel);
SADANET_REGISTER_KERNEL(conv2d_backward_input, DeviceType::cpu, &cpu::conv2d_backward_input_kernel);
SADANET_REGISTER_KERNEL(conv2d_backward_weight, DeviceType::cpu, &cpu::conv2d_backward_weight_kernel);
}  // namespace sadanet
