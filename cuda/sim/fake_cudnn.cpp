// CUDA simulation build: the fake cuDNN (what it models and what not: include/cudnn.h).
//
// Layout of this file: object registry and descriptors; the problem a call describes (validated
// once, copied out of the descriptors); the algorithm table; the naive kernels; the entry points.
// Every entry point validates under the registry lock and computes outside it.
#include <cudnn.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>

#include "fake_tf32.h"

struct cudnnContext {
  cudaStream_t stream = nullptr;
  std::deque<CudnnSimCall> log;
  int executions = 0;
};

struct cudnnTensorStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int64_t dim[4] = {};     // n, c, h, w
  int64_t stride[4] = {};  // in elements
};

struct cudnnFilterStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  int64_t dim[4] = {};  // k, c, r, s
};

struct cudnnConvolutionStruct {
  bool set = false;
  int64_t pad[2] = {}, stride[2] = {}, dilation[2] = {};
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  int groups = 1;
};

namespace {

// ---- registry -----------------------------------------------------------------------------------------------
// Live objects, so that a destroyed or invented handle/descriptor is reported, not dereferenced.
enum class Kind { handle, tensor, filter, conv };
std::mutex g_mu;
std::map<const void*, Kind>& live_objects() {
  static auto* m = new std::map<const void*, Kind>();
  return *m;
}
bool live_locked(const void* p, Kind k) {
  auto it = live_objects().find(p);
  return p && it != live_objects().end() && it->second == k;
}

cudnnStatus_t fail(cudnnStatus_t st, const char* api, const std::string& why) {
  std::fprintf(stderr, "fake cuDNN: %s: %s\n", api, why.c_str());
  return st;
}

template <class T>
cudnnStatus_t create(T** out, Kind k) {
  if (!out) return CUDNN_STATUS_BAD_PARAM;
  auto* p = new T();
  std::lock_guard<std::mutex> lock(g_mu);
  live_objects()[p] = k;
  *out = p;
  return CUDNN_STATUS_SUCCESS;
}

template <class T>
cudnnStatus_t destroy(T* p, Kind k) {
  if (!p) return CUDNN_STATUS_SUCCESS;  // destroying NULL is a no-op, as in cuDNN
  std::lock_guard<std::mutex> lock(g_mu);
  if (!live_locked(p, k)) return CUDNN_STATUS_BAD_PARAM;
  live_objects().erase(p);
  delete p;
  return CUDNN_STATUS_SUCCESS;
}

// Runs f(obj) under the lock when `p` is a live object of kind k, else CUDNN_STATUS_BAD_PARAM.
template <class T, class F>
cudnnStatus_t with_object(T* p, Kind k, F&& f) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!live_locked(p, k)) return CUDNN_STATUS_BAD_PARAM;
  return f(*p);
}

bool valid_type(cudnnDataType_t t) {
  return t >= CUDNN_DATA_FLOAT && t <= CUDNN_DATA_FAST_FLOAT_FOR_FP8;
}
bool runnable_type(cudnnDataType_t t) {
  return t == CUDNN_DATA_FLOAT || t == CUDNN_DATA_DOUBLE;
}
size_t elem_size(cudnnDataType_t t) {
  return t == CUDNN_DATA_DOUBLE ? 8 : 4;
}

using cuda_sim::round_to_tf32;
using cuda_sim::tf32_allowed_by_environment;

// ---- the problem a call describes ------------------------------------------------------------------------------
// A 4-d array: dims and element strides (a filter gets the strides its format implies).
struct Array4 {
  int64_t dim[4];
  int64_t stride[4];
  int64_t offset(int64_t a, int64_t b, int64_t c, int64_t d) const {
    return a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3];
  }
  int64_t elements_spanned() const {  // last element + 1
    int64_t last = 0;
    for (int i = 0; i < 4; ++i) last += (dim[i] - 1) * stride[i];
    return last + 1;
  }
};

// The convolution between x [N,C,H,W], w [K,C,R,S] and y [N,K,Ho,Wo], whatever the direction.
struct Problem {
  cudnnDataType_t type;
  Array4 x, w, y;
  int64_t pad[2], stride[2], dilation[2];
  bool flip;  // CUDNN_CONVOLUTION: the filter is applied mirrored
  cudnnMathType_t math;
  int64_t macs() const { return y.dim[0] * y.dim[1] * y.dim[2] * y.dim[3] * w.dim[1] * w.dim[2] * w.dim[3]; }
};

Array4 filter_array(const cudnnFilterStruct& f) {
  Array4 a{{f.dim[0], f.dim[1], f.dim[2], f.dim[3]}, {}};
  const int64_t c = f.dim[1], r = f.dim[2], s = f.dim[3];
  if (f.format == CUDNN_TENSOR_NHWC) {  // KRSC
    a.stride[0] = r * s * c, a.stride[1] = 1, a.stride[2] = s * c, a.stride[3] = c;
  } else {  // KCRS
    a.stride[0] = c * r * s, a.stride[1] = r * s, a.stride[2] = s, a.stride[3] = 1;
  }
  return a;
}

Array4 tensor_array(const cudnnTensorStruct& t) {
  Array4 a;
  for (int i = 0; i < 4; ++i) a.dim[i] = t.dim[i], a.stride[i] = t.stride[i];
  return a;
}

int64_t output_size(int64_t in, int64_t pad, int64_t filter, int64_t dilation, int64_t stride) {
  const int64_t span = (filter - 1) * dilation + 1;
  if (in + 2 * pad < span) return 0;
  return (in + 2 * pad - span) / stride + 1;
}

std::string dims(const int64_t* d) {
  return std::string("[") + std::to_string(d[0]) + "," + std::to_string(d[1]) + "," + std::to_string(d[2]) + "," +
         std::to_string(d[3]) + "]";
}

// Validates the descriptors of a convolution call and copies them into `p`. `x`/`y` are the
// forward convolution's input and output descriptors (dx and dy in the backward directions).
cudnnStatus_t describe(const char* api, cudnnTensorDescriptor_t xd, cudnnFilterDescriptor_t wd,
                       cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, Problem* p) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!live_locked(xd, Kind::tensor) || !live_locked(yd, Kind::tensor) || !live_locked(wd, Kind::filter) ||
      !live_locked(cd, Kind::conv))
    return fail(CUDNN_STATUS_BAD_PARAM, api, "a descriptor is null or not a live descriptor of its kind");
  if (!xd->set || !yd->set || !wd->set || !cd->set)
    return fail(CUDNN_STATUS_BAD_PARAM, api, "a descriptor was created but never set");
  if (xd->type != wd->type || wd->type != yd->type)
    return fail(CUDNN_STATUS_BAD_PARAM, api, "x, w and y have different data types");
  const bool legal_compute = (xd->type == CUDNN_DATA_FLOAT && cd->compute == CUDNN_DATA_FLOAT) ||
                             (xd->type == CUDNN_DATA_DOUBLE && cd->compute == CUDNN_DATA_DOUBLE) ||
                             ((xd->type == CUDNN_DATA_HALF || xd->type == CUDNN_DATA_BFLOAT16) &&
                              (cd->compute == CUDNN_DATA_FLOAT || cd->compute == xd->type));
  if (!legal_compute)
    return fail(
        CUDNN_STATUS_BAD_PARAM, api,
        std::string("compute type ") + std::to_string(cd->compute) + " is not legal for data type " + std::to_string(xd->type));
  if (cd->groups != 1)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api,
                std::string("group count ") + std::to_string(cd->groups) + " (the fake runs 1 only)");
  p->type = xd->type;
  p->x = tensor_array(*xd);
  p->y = tensor_array(*yd);
  p->w = filter_array(*wd);
  for (int i = 0; i < 2; ++i) p->pad[i] = cd->pad[i], p->stride[i] = cd->stride[i], p->dilation[i] = cd->dilation[i];
  p->flip = cd->mode == CUDNN_CONVOLUTION;
  p->math = cd->math;
  if (p->x.dim[1] != p->w.dim[1])
    return fail(CUDNN_STATUS_BAD_PARAM, api, std::string("x ") + dims(p->x.dim) + " and w " + dims(p->w.dim) + " disagree on C");
  int64_t expect[4] = {p->x.dim[0], p->w.dim[0], 0, 0};
  for (int i = 0; i < 2; ++i)
    expect[2 + i] = output_size(p->x.dim[2 + i], p->pad[i], p->w.dim[2 + i], p->dilation[i], p->stride[i]);
  if (expect[2] < 1 || expect[3] < 1)
    return fail(CUDNN_STATUS_BAD_PARAM, api,
                std::string("the dilated filter ") + dims(p->w.dim) + " is larger than the padded input " + dims(p->x.dim));
  if (!std::equal(expect, expect + 4, p->y.dim))
    return fail(CUDNN_STATUS_BAD_PARAM, api,
                std::string("y is ") + dims(p->y.dim) + ", the convolution of x " + dims(p->x.dim) + " with w " + dims(p->w.dim) +
                    std::string(" gives ") + dims(expect));
  if (!runnable_type(p->type))
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api,
                std::string("data type ") + std::to_string(p->type) + " (the fake runs f32 and f64)");
  return CUDNN_STATUS_SUCCESS;
}

bool check_data(const char* api, const char* name, const void* ptr, const Array4& a, cudnnDataType_t type) {
  const size_t bytes = static_cast<size_t>(a.elements_spanned()) * elem_size(type);
  if (ptr && cuda_sim::device_range(ptr, bytes)) return true;
  char buf[300];
  std::snprintf(buf, sizeof buf, "%s = %p is not device memory covering its %zu bytes (dims %s)", name, ptr, bytes,
                dims(a.dim).c_str());
  fail(CUDNN_STATUS_BAD_PARAM, api, buf);
  return false;
}

bool check_workspace(const char* api, const void* ws, size_t bytes) {
  if (cuda_sim::device_range(ws, bytes)) return true;
  char buf[200];
  std::snprintf(buf, sizeof buf, "workSpace = %p is not device memory covering workSpaceSizeInBytes = %zu", ws, bytes);
  fail(CUDNN_STATUS_BAD_PARAM, api, buf);
  return false;
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// ---- the algorithm table ----------------------------------------------------------------------------------------
enum class Dir { forward, backward_data, backward_filter };
enum class Workspace { none, indices, im2col, fft };

struct AlgoSpec {
  int algo;
  double time_factor = 1.0;  // made up: milliseconds per 2 GMAC
  bool tensor_core = false;  // TF32 under non-FMA math on f32; needs 16-byte-aligned data pointers
  bool never = false;        // reported, never supported (not implemented, as DIRECT is in cuDNN)
  bool unit_stride = false;  // stride 1 and dilation 1 only (FFT, Winograd)
  bool only_3x3 = false;     // 3x3 filters only (Winograd)
  Workspace workspace = Workspace::none;
  cudnnDeterminism_t determinism = CUDNN_DETERMINISTIC;
};

// Each table lists the fastest algorithm first and the never-supported one last. The
// non-deterministic ones are the atomics-based backward algorithms, as in cuDNN.
const AlgoSpec kForward[] = {
    {.algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, .tensor_core = true, .workspace = Workspace::indices},
    {.algo = CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
     .time_factor = 1.6,
     .unit_stride = true,
     .workspace = Workspace::fft},
    {.algo = CUDNN_CONVOLUTION_FWD_ALGO_GEMM, .time_factor = 2.2, .workspace = Workspace::im2col},
    {.algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, .time_factor = 3.5},
    {.algo = CUDNN_CONVOLUTION_FWD_ALGO_DIRECT, .never = true},
};
const AlgoSpec kBackwardData[] = {
    {.algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, .tensor_core = true, .workspace = Workspace::indices},
    {.algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
     .time_factor = 1.7,
     .unit_stride = true,
     .workspace = Workspace::fft},
    {.algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED,
     .time_factor = 1.9,
     .unit_stride = true,
     .only_3x3 = true,
     .workspace = Workspace::im2col},
    {.algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, .time_factor = 2.8, .determinism = CUDNN_NON_DETERMINISTIC},
    {.algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD, .never = true},
};
const AlgoSpec kBackwardFilter[] = {
    {.algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, .tensor_core = true, .workspace = Workspace::indices},
    {.algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT,
     .time_factor = 1.8,
     .unit_stride = true,
     .workspace = Workspace::fft},
    {.algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3,
     .time_factor = 2.1,
     .workspace = Workspace::im2col,
     .determinism = CUDNN_NON_DETERMINISTIC},
    {.algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, .time_factor = 3.0, .determinism = CUDNN_NON_DETERMINISTIC},
    {.algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD, .never = true},
};
constexpr int kAlgosPerDir = 5;

const AlgoSpec* table(Dir d) {
  return d == Dir::forward ? kForward : d == Dir::backward_data ? kBackwardData : kBackwardFilter;
}
int algo_count(Dir d) {
  if (d == Dir::forward) return CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  if (d == Dir::backward_data) return CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
}
const AlgoSpec* find_spec(Dir d, int algo) {
  for (int i = 0; i < kAlgosPerDir; ++i)
    if (table(d)[i].algo == algo) return &table(d)[i];
  return nullptr;
}

bool shape_supported(const AlgoSpec& a, const Problem& p) {
  if (a.never) return false;
  if (a.unit_stride && (p.stride[0] != 1 || p.stride[1] != 1 || p.dilation[0] != 1 || p.dilation[1] != 1)) return false;
  if (a.only_3x3 && (p.w.dim[2] != 3 || p.w.dim[3] != 3)) return false;
  return true;
}

// Honest about memory: the execution checks that it got this much, and writes all of it.
size_t workspace_bytes(const AlgoSpec& a, const Problem& p) {
  const int64_t n = p.x.dim[0], c = p.x.dim[1], k = p.w.dim[0], rs = p.w.dim[2] * p.w.dim[3];
  const int64_t es = static_cast<int64_t>(elem_size(p.type));
  switch (a.workspace) {
    case Workspace::none:
      return 0;
    case Workspace::indices:
      return static_cast<size_t>(8 * c * rs + 256);
    case Workspace::im2col:
      return static_cast<size_t>(c * rs * p.y.dim[2] * p.y.dim[3] * es);
    case Workspace::fft:
      return (size_t{4} << 20) + static_cast<size_t>(256 * es * (n * c + c * k + n * k));
  }
  return 0;
}

bool uses_tf32(const AlgoSpec& a, const Problem& p) {
  return a.tensor_core && p.type == CUDNN_DATA_FLOAT && p.math != CUDNN_FMA_MATH && tf32_allowed_by_environment();
}

cudnnMathType_t reported_math(const AlgoSpec& a, const Problem& p) {
  if (p.math == CUDNN_FMA_MATH) return CUDNN_FMA_MATH;
  return uses_tf32(a, p) ? CUDNN_TENSOR_OP_MATH : CUDNN_DEFAULT_MATH;
}

float made_up_time(const AlgoSpec& a, const Problem& p) {
  const double speedup = uses_tf32(a, p) ? 4.0 : 1.0;
  return static_cast<float>(0.005 + a.time_factor * static_cast<double>(p.macs()) / 2e9 / speedup);
}

// ---- naive kernels
// --------------------------------------------------------------------------------------------------- Pointers of one
// call in the direction's own roles: `in1`, `in2` are read, `out` is written.
struct Operands {
  const void* in1;
  const void* in2;
  void* out;
};

template <class T>
double load(const void* base, int64_t off, bool tf32) {
  const T v = static_cast<const T*>(base)[off];
  if constexpr (std::is_same_v<T, float>) return tf32 ? round_to_tf32(v) : v;
  return v;
}

template <class T>
void store(void* base, int64_t off, double acc, double alpha, double beta) {
  T& o = static_cast<T*>(base)[off];
  o = static_cast<T>(beta == 0.0 ? alpha * acc : alpha * acc + beta * static_cast<double>(o));
}

// One double accumulator per output element, then one rounding per element. Each direction loops
// over the product terms with the output it accumulates into outermost, so the planes of the
// output split across host threads with no two threads writing one element (the tests run whole
// ResNet-50 steps through this).
template <class T>
void run_kernel(Dir d, const Problem& p, const Operands& o, bool tf32, double alpha, double beta) {
  const Array4& out = d == Dir::forward ? p.y : d == Dir::backward_data ? p.x : p.w;
  std::vector<double> acc(static_cast<size_t>(out.dim[0] * out.dim[1] * out.dim[2] * out.dim[3]), 0.0);
  auto at = [&](int64_t a, int64_t b, int64_t c, int64_t e) -> double& {
    return acc[static_cast<size_t>(((a * out.dim[1] + b) * out.dim[2] + c) * out.dim[3] + e)];
  };
  const int64_t N = p.x.dim[0], C = p.x.dim[1], H = p.x.dim[2], W = p.x.dim[3];
  const int64_t K = p.w.dim[0], R = p.w.dim[2], S = p.w.dim[3], Ho = p.y.dim[2], Wo = p.y.dim[3];
  auto ih_of = [&](int64_t oh, int64_t r) { return oh * p.stride[0] - p.pad[0] + r * p.dilation[0]; };
  auto iw_of = [&](int64_t ow, int64_t s) { return ow * p.stride[1] - p.pad[1] + s * p.dilation[1]; };
  auto wr = [&](int64_t r) { return p.flip ? R - 1 - r : r; };  // the filter tap applied at offset r
  auto ws = [&](int64_t s) { return p.flip ? S - 1 - s : s; };
  if (alpha != 0.0) {
    switch (d) {
      case Dir::forward:  // y(n,k,oh,ow) += x(n,c,ih,iw) w(k,c,r,s); in1 = x, in2 = w
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < K; ++k)
            for (int64_t oh = 0; oh < Ho; ++oh)
              for (int64_t ow = 0; ow < Wo; ++ow) {
                double a = 0.0;
                for (int64_t c = 0; c < C; ++c)
                  for (int64_t r = 0; r < R; ++r) {
                    const int64_t ih = ih_of(oh, r);
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t s = 0; s < S; ++s) {
                      const int64_t iw = iw_of(ow, s);
                      if (iw < 0 || iw >= W) continue;
                      a += load<T>(o.in1, p.x.offset(n, c, ih, iw), tf32) *
                           load<T>(o.in2, p.w.offset(k, c, wr(r), ws(s)), tf32);
                    }
                  }
                at(n, k, oh, ow) = a;
              }
        break;
      case Dir::backward_data:  // dx(n,c,ih,iw) += w(k,c,r,s) dy(n,k,oh,ow); in1 = w, in2 = dy
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t k = 0; k < K; ++k)
              for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                  const double g = load<T>(o.in2, p.y.offset(n, k, oh, ow), tf32);
                  for (int64_t r = 0; r < R; ++r) {
                    const int64_t ih = ih_of(oh, r);
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t s = 0; s < S; ++s) {
                      const int64_t iw = iw_of(ow, s);
                      if (iw < 0 || iw >= W) continue;
                      at(n, c, ih, iw) += load<T>(o.in1, p.w.offset(k, c, wr(r), ws(s)), tf32) * g;
                    }
                  }
                }
        break;
      case Dir::backward_filter:  // dw(k,c,r,s) += x(n,c,ih,iw) dy(n,k,oh,ow); in1 = x, in2 = dy
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t k = 0; k < K; ++k)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t n = 0; n < N; ++n)
              for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                  const double g = load<T>(o.in2, p.y.offset(n, k, oh, ow), tf32);
                  for (int64_t r = 0; r < R; ++r) {
                    const int64_t ih = ih_of(oh, r);
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t s = 0; s < S; ++s) {
                      const int64_t iw = iw_of(ow, s);
                      if (iw < 0 || iw >= W) continue;
                      at(k, c, wr(r), ws(s)) += load<T>(o.in1, p.x.offset(n, c, ih, iw), tf32) * g;
                    }
                  }
                }
        break;
    }
  }
  for (int64_t a = 0; a < out.dim[0]; ++a)
    for (int64_t b = 0; b < out.dim[1]; ++b)
      for (int64_t c = 0; c < out.dim[2]; ++c)
        for (int64_t e = 0; e < out.dim[3]; ++e) store<T>(o.out, out.offset(a, b, c, e), at(a, b, c, e), alpha, beta);
}

void run(Dir d, const Problem& p, const Operands& o, bool tf32, double alpha, double beta) {
  if (p.type == CUDNN_DATA_FLOAT)
    run_kernel<float>(d, p, o, tf32, alpha, beta);
  else
    run_kernel<double>(d, p, o, tf32, alpha, beta);
}

// Scaling factors: float for f32/half data, double for f64 (cuDNN's rule).
double scale(const void* p, cudnnDataType_t t) {
  return t == CUDNN_DATA_DOUBLE ? *static_cast<const double*>(p) : *static_cast<const float*>(p);
}

// ---- shared bodies of the entry points -----------------------------------------------------------------------------
const char* const kFindNames[] = {"cudnnFindConvolutionForwardAlgorithmEx",
                                  "cudnnFindConvolutionBackwardDataAlgorithmEx",
                                  "cudnnFindConvolutionBackwardFilterAlgorithmEx"};
const char* const kRunNames[] = {"cudnnConvolutionForward", "cudnnConvolutionBackwardData",
                                 "cudnnConvolutionBackwardFilter"};
const char* const kRoles[3][3] = {{"x", "w", "y"}, {"w", "dy", "dx"}, {"x", "dy", "dw"}};

// The arrays behind in1, in2 and out in direction d.
void roles(Dir d, const Problem& p, const Array4* a[3]) {
  if (d == Dir::forward) a[0] = &p.x, a[1] = &p.w, a[2] = &p.y;
  if (d == Dir::backward_data) a[0] = &p.w, a[1] = &p.y, a[2] = &p.x;
  if (d == Dir::backward_filter) a[0] = &p.x, a[1] = &p.y, a[2] = &p.w;
}

bool check_operands(const char* api, Dir d, const Problem& p, const Operands& o) {
  const Array4* a[3];
  roles(d, p, a);
  const void* ptr[3] = {o.in1, o.in2, o.out};
  for (int i = 0; i < 3; ++i)
    if (!check_data(api, kRoles[static_cast<int>(d)][i], ptr[i], *a[i], p.type)) return false;
  return true;
}

bool operands_aligned(const Operands& o) {
  return aligned16(o.in1) && aligned16(o.in2) && aligned16(o.out);
}

// The newest calls of the process (under g_mu); each log keeps at most kLogCapacity entries, so
// that a long simulated run does not grow without bound.
constexpr size_t kLogCapacity = 65536;
std::deque<CudnnSimCall>& global_log() {
  static auto* d = new std::deque<CudnnSimCall>();
  return *d;
}
void append(std::deque<CudnnSimCall>& log, const CudnnSimCall& c) {
  if (log.size() == kLogCapacity) log.pop_front();
  log.push_back(c);
}

// Appends to the handle's and the global log (and counts a successful execution); returns st.
cudnnStatus_t record(cudnnHandle_t h, CudnnSimOp op, int algo, cudnnStatus_t st, cudnnMathType_t math, bool tf32,
                     size_t ws) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!live_locked(h, Kind::handle)) return st;
  const CudnnSimCall call{h, op, algo, st, math, tf32, ws, h->stream};
  append(h->log, call);
  append(global_log(), call);
  const bool execution =
      op == CudnnSimOp::forward || op == CudnnSimOp::backward_data || op == CudnnSimOp::backward_filter;
  if (execution && st == CUDNN_STATUS_SUCCESS) ++h->executions;
  return st;
}

bool live_handle(cudnnHandle_t h) {
  std::lock_guard<std::mutex> lock(g_mu);
  return live_locked(h, Kind::handle);
}

struct Perf {
  int algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t math;
};

// cudnnFind*AlgorithmEx: judges every algorithm, writes the output with the last one it "ran"
// (table order), scribbles on the workspace it used, and returns the results sorted.
template <class PerfT>
cudnnStatus_t find(Dir d, cudnnHandle_t h, const Problem& p, const Operands& o, int requested, int* returned,
                   PerfT* results, void* ws, size_t ws_bytes) {
  const char* api = kFindNames[static_cast<int>(d)];
  const CudnnSimOp op = static_cast<CudnnSimOp>(static_cast<int>(CudnnSimOp::find_forward) + static_cast<int>(d));
  auto done = [&](cudnnStatus_t st, bool tf32) { return record(h, op, -1, st, p.math, tf32, ws_bytes); };
  if (!o.in1 || !o.in2 || !o.out) return done(fail(CUDNN_STATUS_BAD_PARAM, api, "a data pointer is null"), false);
  if (!returned || !results)
    return done(fail(CUDNN_STATUS_BAD_PARAM, api, "returnedAlgoCount or perfResults is null"), false);
  if (requested <= 0) return done(fail(CUDNN_STATUS_BAD_PARAM, api, "requestedAlgoCount <= 0"), false);
  if (!check_operands(api, d, p, o) || !check_workspace(api, ws, ws_bytes)) return done(CUDNN_STATUS_BAD_PARAM, false);
  std::vector<Perf> perf;
  const AlgoSpec* last_run = nullptr;
  size_t ws_used = 0;
  for (int i = 0; i < kAlgosPerDir; ++i) {
    const AlgoSpec& a = table(d)[i];
    Perf r{a.algo, CUDNN_STATUS_SUCCESS, made_up_time(a, p), workspace_bytes(a, p), a.determinism, reported_math(a, p)};
    if (!shape_supported(a, p) || (a.tensor_core && !operands_aligned(o)))
      r.status = CUDNN_STATUS_NOT_SUPPORTED;
    else if (r.memory > ws_bytes)
      r.status = CUDNN_STATUS_ALLOC_FAILED;  // documented: "the provided workspace is insufficient"
    if (r.status == CUDNN_STATUS_SUCCESS) {
      last_run = &a;
      ws_used = std::max(ws_used, r.memory);
    } else {
      r.time = -1.0f;
    }
    perf.push_back(r);
  }
  const bool tf32 = last_run && uses_tf32(*last_run, p);
  if (last_run) run(d, p, o, tf32, 1.0, 0.0);
  if (ws_used) std::memset(ws, 0xa5, ws_used);
  std::stable_sort(perf.begin(), perf.end(), [](const Perf& a, const Perf& b) {
    const bool ok_a = a.status == CUDNN_STATUS_SUCCESS, ok_b = b.status == CUDNN_STATUS_SUCCESS;
    if (ok_a != ok_b) return ok_a;
    return ok_a && a.time < b.time;
  });
  const int n = std::min<int>(requested, static_cast<int>(perf.size()));
  for (int i = 0; i < n; ++i) {
    PerfT& r = results[i];
    std::memset(&r, 0, sizeof r);
    r.algo = static_cast<decltype(r.algo)>(perf[i].algo);
    r.status = perf[i].status;
    r.time = perf[i].time;
    r.memory = perf[i].memory;
    r.determinism = perf[i].determinism;
    r.mathType = perf[i].math;
  }
  *returned = n;
  return done(CUDNN_STATUS_SUCCESS, tf32);
}

// The checks an execution call and a workspace-size query share: the algorithm is in range,
// implemented and able to run this problem.
cudnnStatus_t resolve_algo(const char* api, Dir d, const Problem& p, int algo, const AlgoSpec** out) {
  if (algo < 0 || algo >= algo_count(d))
    return fail(CUDNN_STATUS_BAD_PARAM, api, std::string("algo ") + std::to_string(algo) + " is outside its enum");
  const AlgoSpec* a = find_spec(d, algo);
  if (!a || a->never)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api, std::string("algo ") + std::to_string(algo) + " is not implemented");
  if (!shape_supported(*a, p))
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api,
                std::string("algo ") + std::to_string(algo) + " does not support this problem (stride/dilation/filter size)");
  *out = a;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t execute(Dir d, cudnnHandle_t h, const Problem& p, int algo, const void* alpha, const void* beta,
                      const Operands& o, void* ws, size_t ws_bytes) {
  const char* api = kRunNames[static_cast<int>(d)];
  const CudnnSimOp op = static_cast<CudnnSimOp>(static_cast<int>(CudnnSimOp::forward) + static_cast<int>(d));
  auto done = [&](cudnnStatus_t st, bool tf32) { return record(h, op, algo, st, p.math, tf32, ws_bytes); };
  if (!alpha || !beta) return done(fail(CUDNN_STATUS_BAD_PARAM, api, "alpha or beta is null"), false);
  if (!o.in1 || !o.in2 || !o.out) return done(fail(CUDNN_STATUS_BAD_PARAM, api, "a data pointer is null"), false);
  const AlgoSpec* a = nullptr;
  cudnnStatus_t st = resolve_algo(api, d, p, algo, &a);
  if (st != CUDNN_STATUS_SUCCESS) return done(st, false);
  if (!check_operands(api, d, p, o)) return done(CUDNN_STATUS_BAD_PARAM, false);
  if (a->tensor_core && !operands_aligned(o)) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "algo %d needs 16-byte-aligned data pointers, got %p, %p, %p", algo, o.in1, o.in2,
                  o.out);
    return done(fail(CUDNN_STATUS_NOT_SUPPORTED, api, buf), false);
  }
  const size_t need = workspace_bytes(*a, p);
  if (ws_bytes < need)
    return done(fail(CUDNN_STATUS_BAD_PARAM, api,
                     std::string("workSpaceSizeInBytes ") + std::to_string(ws_bytes) + " < the " + std::to_string(need) +
                         std::string(" bytes algo ") + std::to_string(algo) + " needs"),
                false);
  if (!check_workspace(api, ws, ws_bytes)) return done(CUDNN_STATUS_BAD_PARAM, false);
  const bool tf32 = uses_tf32(*a, p);
  run(d, p, o, tf32, scale(alpha, p.type), scale(beta, p.type));
  if (need) std::memset(ws, 0xa5, need);
  return done(CUDNN_STATUS_SUCCESS, tf32);
}

cudnnStatus_t workspace_size(Dir d, const char* api, const Problem& p, int algo, size_t* size) {
  if (!size) return fail(CUDNN_STATUS_BAD_PARAM, api, "sizeInBytes is null");
  const AlgoSpec* a = nullptr;
  const cudnnStatus_t st = resolve_algo(api, d, p, algo, &a);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  *size = workspace_bytes(*a, p);
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace

// ---- library, handle -------------------------------------------------------------------------------------------

size_t cudnnGetVersion(void) {
  return CUDNN_VERSION;
}

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
#define SADANET_SIM_NAME(x) \
  case x:                   \
    return #x;
    SADANET_SIM_NAME(CUDNN_STATUS_SUCCESS)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_INITIALIZED)
    SADANET_SIM_NAME(CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
    SADANET_SIM_NAME(CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH)
    SADANET_SIM_NAME(CUDNN_STATUS_DEPRECATED)
    SADANET_SIM_NAME(CUDNN_STATUS_LICENSE_ERROR)
    SADANET_SIM_NAME(CUDNN_STATUS_RUNTIME_IN_PROGRESS)
    SADANET_SIM_NAME(CUDNN_STATUS_RUNTIME_FP_OVERFLOW)
    SADANET_SIM_NAME(CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM)
    SADANET_SIM_NAME(CUDNN_STATUS_INVALID_VALUE)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_NULL_POINTER)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH)
    SADANET_SIM_NAME(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_SHAPE)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_PADDING)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM)
    SADANET_SIM_NAME(CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API)
    SADANET_SIM_NAME(CUDNN_STATUS_INTERNAL_ERROR)
    SADANET_SIM_NAME(CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED)
    SADANET_SIM_NAME(CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE)
    SADANET_SIM_NAME(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)
    SADANET_SIM_NAME(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    SADANET_SIM_NAME(CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM)
    SADANET_SIM_NAME(CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED)
    SADANET_SIM_NAME(CUDNN_STATUS_EXECUTION_FAILED)
    SADANET_SIM_NAME(CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER)
    SADANET_SIM_NAME(CUDNN_STATUS_EXECUTION_FAILED_CUBLAS)
    SADANET_SIM_NAME(CUDNN_STATUS_EXECUTION_FAILED_CUDART)
    SADANET_SIM_NAME(CUDNN_STATUS_EXECUTION_FAILED_CURAND)
#undef SADANET_SIM_NAME
  }
  return "CUDNN_STATUS_UNKNOWN";
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  return create(handle, Kind::handle);
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  return destroy(handle, Kind::handle);
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId) {
  return with_object(handle, Kind::handle, [&](cudnnContext& h) {
    h.stream = streamId;
    return CUDNN_STATUS_SUCCESS;
  });
}

cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t* streamId) {
  return with_object(handle, Kind::handle, [&](cudnnContext& h) {
    if (!streamId) return CUDNN_STATUS_BAD_PARAM;
    *streamId = h.stream;
    return CUDNN_STATUS_SUCCESS;
  });
}

// ---- descriptors ---------------------------------------------------------------------------------------------------

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* tensorDesc) {
  return create(tensorDesc, Kind::tensor);
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) {
  return destroy(tensorDesc, Kind::tensor);
}

namespace {
// Both tensor setters end here; sizes in 64 bits so that the 2-Giga-element check cannot overflow.
cudnnStatus_t set_tensor(const char* api, cudnnTensorDescriptor_t desc, cudnnDataType_t type, const int64_t dim[4],
                         const int64_t stride[4]) {
  if (!valid_type(type)) return fail(CUDNN_STATUS_BAD_PARAM, api, "invalid data type");
  for (int i = 0; i < 4; ++i) {
    if (dim[i] <= 0) return fail(CUDNN_STATUS_BAD_PARAM, api, "a dimension is <= 0");
    if (stride[i] < 0) return fail(CUDNN_STATUS_BAD_PARAM, api, "a stride is negative");
  }
  if (dim[0] * dim[1] * dim[2] * dim[3] > INT_MAX)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api, "more than 2 Giga-elements (the legacy API's limit)");
  return with_object(desc, Kind::tensor, [&](cudnnTensorStruct& t) {
    t.set = true;
    t.type = type;
    for (int i = 0; i < 4; ++i) t.dim[i] = dim[i], t.stride[i] = stride[i];
    return CUDNN_STATUS_SUCCESS;
  });
}
}  // namespace

cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType, int n, int c,
                                           int h, int w, int nStride, int cStride, int hStride, int wStride) {
  const int64_t dim[4] = {n, c, h, w}, stride[4] = {nStride, cStride, hStride, wStride};
  return set_tensor("cudnnSetTensor4dDescriptorEx", tensorDesc, dataType, dim, stride);
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
                                         cudnnDataType_t dataType, int n, int c, int h, int w) {
  const char* api = "cudnnSetTensor4dDescriptor";
  const int64_t N = n, C = c, H = h, W = w, dim[4] = {N, C, H, W};
  if (format == CUDNN_TENSOR_NCHW) {
    const int64_t stride[4] = {C * H * W, H * W, W, 1};
    return set_tensor(api, tensorDesc, dataType, dim, stride);
  }
  if (format == CUDNN_TENSOR_NHWC) {
    const int64_t stride[4] = {H * W * C, 1, W * C, C};
    return set_tensor(api, tensorDesc, dataType, dim, stride);
  }
  return fail(CUDNN_STATUS_BAD_PARAM, api, "format is not NCHW or NHWC");
}

cudnnStatus_t cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t* dataType, int* n,
                                         int* c, int* h, int* w, int* nStride, int* cStride, int* hStride,
                                         int* wStride) {
  return with_object(tensorDesc, Kind::tensor, [&](cudnnTensorStruct& t) {
    if (!dataType || !n || !c || !h || !w || !nStride || !cStride || !hStride || !wStride)
      return CUDNN_STATUS_BAD_PARAM;
    int* d[4] = {n, c, h, w};
    int* s[4] = {nStride, cStride, hStride, wStride};
    *dataType = t.type;
    for (int i = 0; i < 4; ++i) *d[i] = static_cast<int>(t.dim[i]), *s[i] = static_cast<int>(t.stride[i]);
    return CUDNN_STATUS_SUCCESS;
  });
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* filterDesc) {
  return create(filterDesc, Kind::filter);
}
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) {
  return destroy(filterDesc, Kind::filter);
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w) {
  const char* api = "cudnnSetFilter4dDescriptor";
  if (!valid_type(dataType)) return fail(CUDNN_STATUS_BAD_PARAM, api, "invalid data type");
  if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
    return fail(CUDNN_STATUS_BAD_PARAM, api, "format is not NCHW or NHWC");
  if (k <= 0 || c <= 0 || h <= 0 || w <= 0) return fail(CUDNN_STATUS_BAD_PARAM, api, "a dimension is <= 0");
  return with_object(filterDesc, Kind::filter, [&](cudnnFilterStruct& f) {
    f.set = true;
    f.type = dataType;
    f.format = format;
    const int d[4] = {k, c, h, w};
    for (int i = 0; i < 4; ++i) f.dim[i] = d[i];
    return CUDNN_STATUS_SUCCESS;
  });
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* convDesc) {
  return create(convDesc, Kind::conv);
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) {
  return destroy(convDesc, Kind::conv);
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, int u, int v,
                                              int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
  const char* api = "cudnnSetConvolution2dDescriptor";
  if (pad_h < 0 || pad_w < 0) return fail(CUDNN_STATUS_BAD_PARAM, api, "negative padding");
  if (u <= 0 || v <= 0) return fail(CUDNN_STATUS_BAD_PARAM, api, "a stride is <= 0");
  if (dilation_h <= 0 || dilation_w <= 0) return fail(CUDNN_STATUS_BAD_PARAM, api, "a dilation is <= 0");
  if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION)
    return fail(CUDNN_STATUS_BAD_PARAM, api, "invalid mode");
  if (!valid_type(computeType)) return fail(CUDNN_STATUS_BAD_PARAM, api, "invalid compute type");
  return with_object(convDesc, Kind::conv, [&](cudnnConvolutionStruct& cd) {
    cd.set = true;
    cd.pad[0] = pad_h, cd.pad[1] = pad_w, cd.stride[0] = u, cd.stride[1] = v;
    cd.dilation[0] = dilation_h, cd.dilation[1] = dilation_w;
    cd.mode = mode;
    cd.compute = computeType;
    return CUDNN_STATUS_SUCCESS;
  });
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType) {
  if (mathType < CUDNN_DEFAULT_MATH || mathType > CUDNN_FMA_MATH)
    return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType", "invalid math type");
  return with_object(convDesc, Kind::conv, [&](cudnnConvolutionStruct& cd) {
    cd.math = mathType;
    return CUDNN_STATUS_SUCCESS;
  });
}

cudnnStatus_t cudnnGetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t* mathType) {
  return with_object(convDesc, Kind::conv, [&](cudnnConvolutionStruct& cd) {
    if (!mathType) return CUDNN_STATUS_BAD_PARAM;
    *mathType = cd.math;
    return CUDNN_STATUS_SUCCESS;
  });
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc, int groupCount) {
  if (groupCount < 1) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionGroupCount", "groupCount < 1");
  return with_object(convDesc, Kind::conv, [&](cudnnConvolutionStruct& cd) {
    cd.groups = groupCount;
    return CUDNN_STATUS_SUCCESS;
  });
}

cudnnStatus_t cudnnGetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc, int* groupCount) {
  return with_object(convDesc, Kind::conv, [&](cudnnConvolutionStruct& cd) {
    if (!groupCount) return CUDNN_STATUS_BAD_PARAM;
    *groupCount = cd.groups;
    return CUDNN_STATUS_SUCCESS;
  });
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
                                                    const cudnnTensorDescriptor_t inputTensorDesc,
                                                    const cudnnFilterDescriptor_t filterDesc, int* n, int* c, int* h,
                                                    int* w) {
  const char* api = "cudnnGetConvolution2dForwardOutputDim";
  std::lock_guard<std::mutex> lock(g_mu);
  if (!live_locked(convDesc, Kind::conv) || !live_locked(inputTensorDesc, Kind::tensor) ||
      !live_locked(filterDesc, Kind::filter) || !n || !c || !h || !w)
    return fail(CUDNN_STATUS_BAD_PARAM, api, "a descriptor or output pointer is null or not live");
  const cudnnConvolutionStruct& cd = *convDesc;
  const cudnnTensorStruct& x = *inputTensorDesc;
  const cudnnFilterStruct& f = *filterDesc;
  if (!cd.set || !x.set || !f.set) return fail(CUDNN_STATUS_BAD_PARAM, api, "a descriptor was never set");
  if (x.dim[1] != f.dim[1] * cd.groups)
    return fail(CUDNN_STATUS_BAD_PARAM, api,
                std::string("input channels ") + std::to_string(x.dim[1]) + " != filter channels " + std::to_string(f.dim[1]) +
                    std::string(" * groups ") + std::to_string(cd.groups));
  const int64_t oh = output_size(x.dim[2], cd.pad[0], f.dim[2], cd.dilation[0], cd.stride[0]);
  const int64_t ow = output_size(x.dim[3], cd.pad[1], f.dim[3], cd.dilation[1], cd.stride[1]);
  if (oh < 1 || ow < 1) return fail(CUDNN_STATUS_BAD_PARAM, api, "the dilated filter is larger than the padded input");
  *n = static_cast<int>(x.dim[0]), *c = static_cast<int>(f.dim[0]), *h = static_cast<int>(oh),
  *w = static_cast<int>(ow);
  return CUDNN_STATUS_SUCCESS;
}

// ---- algorithm search, workspace sizes
// --------------------------------------------------------------------------------

cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                     const void* x, const cudnnFilterDescriptor_t wDesc, const void* w,
                                                     const cudnnConvolutionDescriptor_t convDesc,
                                                     const cudnnTensorDescriptor_t yDesc, void* y,
                                                     const int requestedAlgoCount, int* returnedAlgoCount,
                                                     cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace,
                                                     size_t workSpaceSizeInBytes) {
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(kFindNames[0], xDesc, wDesc, convDesc, yDesc, &p);
  if (st != CUDNN_STATUS_SUCCESS)
    return record(handle, CudnnSimOp::find_forward, -1, st, CUDNN_DEFAULT_MATH, false, workSpaceSizeInBytes);
  return find(Dir::forward, handle, p, Operands{x, w, y}, requestedAlgoCount, returnedAlgoCount, perfResults, workSpace,
              workSpaceSizeInBytes);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
                                                          const void* w, const cudnnTensorDescriptor_t dyDesc,
                                                          const void* dy, const cudnnConvolutionDescriptor_t convDesc,
                                                          const cudnnTensorDescriptor_t dxDesc, void* dx,
                                                          const int requestedAlgoCount, int* returnedAlgoCount,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perfResults,
                                                          void* workSpace, size_t workSpaceSizeInBytes) {
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(kFindNames[1], dxDesc, wDesc, convDesc, dyDesc, &p);
  if (st != CUDNN_STATUS_SUCCESS)
    return record(handle, CudnnSimOp::find_backward_data, -1, st, CUDNN_DEFAULT_MATH, false, workSpaceSizeInBytes);
  return find(Dir::backward_data, handle, p, Operands{w, dy, dx}, requestedAlgoCount, returnedAlgoCount, perfResults,
              workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                            const void* x, const cudnnTensorDescriptor_t dyDesc,
                                                            const void* y, const cudnnConvolutionDescriptor_t convDesc,
                                                            const cudnnFilterDescriptor_t dwDesc, void* dw,
                                                            const int requestedAlgoCount, int* returnedAlgoCount,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perfResults,
                                                            void* workSpace, size_t workSpaceSizeInBytes) {
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(kFindNames[2], xDesc, dwDesc, convDesc, dyDesc, &p);
  if (st != CUDNN_STATUS_SUCCESS)
    return record(handle, CudnnSimOp::find_backward_filter, -1, st, CUDNN_DEFAULT_MATH, false, workSpaceSizeInBytes);
  return find(Dir::backward_filter, handle, p, Operands{x, y, dw}, requestedAlgoCount, returnedAlgoCount, perfResults,
              workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                      const cudnnFilterDescriptor_t wDesc,
                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                      const cudnnTensorDescriptor_t yDesc,
                                                      cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes) {
  const char* api = "cudnnGetConvolutionForwardWorkspaceSize";
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(api, xDesc, wDesc, convDesc, yDesc, &p);
  return st != CUDNN_STATUS_SUCCESS ? st : workspace_size(Dir::forward, api, p, algo, sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
                                                           const cudnnTensorDescriptor_t dyDesc,
                                                           const cudnnConvolutionDescriptor_t convDesc,
                                                           const cudnnTensorDescriptor_t dxDesc,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes) {
  const char* api = "cudnnGetConvolutionBackwardDataWorkspaceSize";
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(api, dxDesc, wDesc, convDesc, dyDesc, &p);
  return st != CUDNN_STATUS_SUCCESS ? st : workspace_size(Dir::backward_data, api, p, algo, sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                             const cudnnTensorDescriptor_t dyDesc,
                                                             const cudnnConvolutionDescriptor_t convDesc,
                                                             const cudnnFilterDescriptor_t gradDesc,
                                                             cudnnConvolutionBwdFilterAlgo_t algo,
                                                             size_t* sizeInBytes) {
  const char* api = "cudnnGetConvolutionBackwardFilterWorkspaceSize";
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(api, xDesc, gradDesc, convDesc, dyDesc, &p);
  return st != CUDNN_STATUS_SUCCESS ? st : workspace_size(Dir::backward_filter, api, p, algo, sizeInBytes);
}

// ---- execution
// ---------------------------------------------------------------------------------------------------------

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc,
                                      const void* x, const cudnnFilterDescriptor_t wDesc, const void* w,
                                      const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
                                      void* workSpace, size_t workSpaceSizeInBytes, const void* beta,
                                      const cudnnTensorDescriptor_t yDesc, void* y) {
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(kRunNames[0], xDesc, wDesc, convDesc, yDesc, &p);
  if (st != CUDNN_STATUS_SUCCESS)
    return record(handle, CudnnSimOp::forward, algo, st, CUDNN_DEFAULT_MATH, false, workSpaceSizeInBytes);
  return execute(Dir::forward, handle, p, algo, alpha, beta, Operands{x, w, y}, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha, const cudnnFilterDescriptor_t wDesc,
                                           const void* w, const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void* workSpace,
                                           size_t workSpaceSizeInBytes, const void* beta,
                                           const cudnnTensorDescriptor_t dxDesc, void* dx) {
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(kRunNames[1], dxDesc, wDesc, convDesc, dyDesc, &p);
  if (st != CUDNN_STATUS_SUCCESS)
    return record(handle, CudnnSimOp::backward_data, algo, st, CUDNN_DEFAULT_MATH, false, workSpaceSizeInBytes);
  return execute(Dir::backward_data, handle, p, algo, alpha, beta, Operands{w, dy, dx}, workSpace,
                 workSpaceSizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void* x,
                                             const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace,
                                             size_t workSpaceSizeInBytes, const void* beta,
                                             const cudnnFilterDescriptor_t dwDesc, void* dw) {
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  Problem p;
  const cudnnStatus_t st = describe(kRunNames[2], xDesc, dwDesc, convDesc, dyDesc, &p);
  if (st != CUDNN_STATUS_SUCCESS)
    return record(handle, CudnnSimOp::backward_filter, algo, st, CUDNN_DEFAULT_MATH, false, workSpaceSizeInBytes);
  return execute(Dir::backward_filter, handle, p, algo, alpha, beta, Operands{x, dy, dw}, workSpace,
                 workSpaceSizeInBytes);
}

cudnnStatus_t cudnnAddTensor(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t aDesc,
                             const void* A, const void* beta, const cudnnTensorDescriptor_t cDesc, void* C) {
  const char* api = "cudnnAddTensor";
  if (!live_handle(handle)) return CUDNN_STATUS_BAD_PARAM;
  auto done = [&](cudnnStatus_t st) {
    return record(handle, CudnnSimOp::add_tensor, -1, st, CUDNN_DEFAULT_MATH, false, 0);
  };
  cudnnTensorStruct a, c;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!live_locked(aDesc, Kind::tensor) || !live_locked(cDesc, Kind::tensor))
      return done(fail(CUDNN_STATUS_BAD_PARAM, api, "a descriptor is null or not live"));
    a = *aDesc, c = *cDesc;
  }
  if (!a.set || !c.set) return done(fail(CUDNN_STATUS_BAD_PARAM, api, "a descriptor was never set"));
  if (!alpha || !beta || !A || !C) return done(fail(CUDNN_STATUS_BAD_PARAM, api, "a pointer is null"));
  if (a.type != c.type) return done(fail(CUDNN_STATUS_BAD_PARAM, api, "A and C have different data types"));
  for (int i = 0; i < 4; ++i)
    if (a.dim[i] != c.dim[i] && a.dim[i] != 1)
      return done(fail(CUDNN_STATUS_BAD_PARAM, api,
                       std::string("A ") + dims(a.dim) + " does not broadcast to C " + dims(c.dim) + " (each dim equal or 1)"));
  if (!runnable_type(c.type))
    return done(fail(CUDNN_STATUS_NOT_SUPPORTED, api, "data type (the fake runs f32 and f64)"));
  const Array4 aa = tensor_array(a), ca = tensor_array(c);
  if (!check_data(api, "A", A, aa, a.type) || !check_data(api, "C", C, ca, c.type)) return done(CUDNN_STATUS_BAD_PARAM);
  const double al = scale(alpha, c.type), be = scale(beta, c.type);
  for (int64_t n = 0; n < ca.dim[0]; ++n)
    for (int64_t ch = 0; ch < ca.dim[1]; ++ch)
      for (int64_t h = 0; h < ca.dim[2]; ++h)
        for (int64_t w = 0; w < ca.dim[3]; ++w) {
          const int64_t src =
              aa.offset(a.dim[0] == 1 ? 0 : n, a.dim[1] == 1 ? 0 : ch, a.dim[2] == 1 ? 0 : h, a.dim[3] == 1 ? 0 : w);
          const int64_t dst = ca.offset(n, ch, h, w);
          if (c.type == CUDNN_DATA_FLOAT)
            store<float>(C, dst, load<float>(A, src, false), al, be);
          else
            store<double>(C, dst, load<double>(A, src, false), al, be);
        }
  return done(CUDNN_STATUS_SUCCESS);
}

// ---- simulation-only call log
// ----------------------------------------------------------------------------------------

std::vector<CudnnSimCall> cudnnSimCallLog(cudnnHandle_t handle) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!live_locked(handle, Kind::handle)) return {};
  return std::vector<CudnnSimCall>(handle->log.begin(), handle->log.end());
}

void cudnnSimClearCallLog(cudnnHandle_t handle) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (live_locked(handle, Kind::handle)) handle->log.clear(), handle->executions = 0;
}

int cudnnSimExecutions(cudnnHandle_t handle) {
  std::lock_guard<std::mutex> lock(g_mu);
  return live_locked(handle, Kind::handle) ? handle->executions : 0;
}

std::vector<CudnnSimCall> cudnnSimCallLogAll() {
  std::lock_guard<std::mutex> lock(g_mu);
  return std::vector<CudnnSimCall>(global_log().begin(), global_log().end());
}

void cudnnSimClearCallLogAll() {
  std::lock_guard<std::mutex> lock(g_mu);
  global_log().clear();
}
