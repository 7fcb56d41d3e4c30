// conv2d through cuDNN (built when SADANET_WITH_CUDNN; otherwise every entry point returns false
// and the implicit GEMM runs).
//
// Per (direction, dtype, device, shapes, parameters, TF32 switch) the algorithm is chosen once
// with cudnnFind*AlgorithmEx (which times the candidates on the call's own buffers) and cached.
// Candidates must succeed within a workspace of at most 256 MiB (and half the free memory);
// workspace comes from sadanet's caching allocator. Exact f32 (TF32 off, the default) sets
// CUDNN_FMA_MATH on the descriptor and accepts only FMA-math results, so no tensor-core
// down-conversion happens; with TF32 on, CUDNN_DEFAULT_MATH lets cuDNN use TF32. A case with no
// acceptable algorithm, or whose algorithm the execution refuses as unsupported, is remembered as
// such and runs on the implicit GEMM. The key includes the buffers' alignment (see Key).
#include "conv_cuda.h"

#ifdef SADANET_WITH_CUDNN

#include <cudnn.h>

#include <algorithm>
#include <climits>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <tuple>

#include "cuda_common.cuh"
#include "cuda_config.h"

#define SADANET_CUDNN_CHECK(expr)                                                                        \
  do {                                                                                                   \
    cudnnStatus_t sadanet_st_ = (expr);                                                                  \
    if (sadanet_st_ != CUDNN_STATUS_SUCCESS)                                                             \
      throw ::sadanet::Error(::sadanet::detail::concat("cuDNN error in ", #expr, " at ", __FILE__, ":",  \
                                                       __LINE__, ": ", cudnnGetErrorString(sadanet_st_))); \
  } while (0)

namespace sadanet::cuda {
namespace {

constexpr size_t kMaxWorkspace = size_t{256} << 20;

struct CudnnHandle {
  cudnnHandle_t handle = nullptr;
  std::mutex mu;  // one call at a time per handle
};

// The current device's handle (created on first use, never destroyed).
CudnnHandle& cudnn_handle() {
  int dev = 0;
  SADANET_CUDA_CHECK(cudaGetDevice(&dev));
  static std::mutex mu;
  static auto* handles = new std::map<int, std::unique_ptr<CudnnHandle>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& h = (*handles)[dev];
  if (!h) {
    auto fresh = std::make_unique<CudnnHandle>();
    SADANET_CUDNN_CHECK(cudnnCreate(&fresh->handle));
    h = std::move(fresh);
  }
  return *h;
}

enum class Dir { forward, backward_input, backward_weight };
const char* dir_name(Dir d) {
  return d == Dir::forward ? "forward" : d == Dir::backward_input ? "backward_input" : "backward_weight";
}

// x [N,C,H,W], w [O,C,kh,kw], y [N,O,Ho,Wo] of the forward convolution, in every direction.
// `align`: the largest of 16, 8, 4 bytes that every data pointer of the call is aligned to. Some
// algorithms need 16-byte-aligned buffers, so a view at an odd offset (a batch slice, say) is
// asked about separately, as PyTorch keys its cache on alignment.
struct Key {
  Dir dir;
  DType dtype;
  int device;
  int64_t x[4], w[4];
  int64_t sh, sw, ph, pw, dh, dw;
  bool tf32;
  int align;
  auto tie() const {
    return std::tie(dir, dtype, device, x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3], sh, sw, ph, pw, dh, dw, tf32,
                    align);
  }
  bool operator<(const Key& o) const { return tie() < o.tie(); }
};

struct Choice {
  bool ok = false;  // false: no acceptable algorithm, use the implicit GEMM
  int refused = -1;  // >= 0: the algorithm Find chose and the execution then refused as unsupported
  int algo = 0;
  size_t workspace = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

std::mutex g_cache_mu;
std::map<Key, Choice>& cache() {
  static auto* m = new std::map<Key, Choice>();
  return *m;
}

// Descriptors for one call, destroyed with it.
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  Descriptors() {
    SADANET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    SADANET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    SADANET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias));
    SADANET_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    SADANET_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
  }
  ~Descriptors() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

bool fits_int(const Shape& s) {
  for (auto v : s)
    if (v > INT_MAX) return false;
  return shape_numel(s) <= INT_MAX;  // the legacy API indexes tensors with int
}

cudnnMathType_t requested_math(DType t) {
  return (t == DType::f32 && !tf32_enabled()) ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

// False when cuDNN cannot describe the case (sizes beyond int).
bool describe(Descriptors& d, DType dtype, const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p) {
  if (!fits_int(xs) || !fits_int(ws) || !fits_int(ys)) return false;
  const cudnnDataType_t dt = dtype == DType::f32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
  auto i = [](int64_t v) { return static_cast<int>(v); };
  SADANET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.x, CUDNN_TENSOR_NCHW, dt, i(xs[0]), i(xs[1]), i(xs[2]), i(xs[3])));
  SADANET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NCHW, dt, i(ys[0]), i(ys[1]), i(ys[2]), i(ys[3])));
  SADANET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.bias, CUDNN_TENSOR_NCHW, dt, 1, i(ys[1]), 1, 1));
  SADANET_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d.w, dt, CUDNN_TENSOR_NCHW, i(ws[0]), i(ws[1]), i(ws[2]), i(ws[3])));
  SADANET_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d.conv, i(p.pad_h), i(p.pad_w), i(p.stride_h), i(p.stride_w),
                                                      i(p.dilation_h), i(p.dilation_w), CUDNN_CROSS_CORRELATION, dt));
  SADANET_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, requested_math(dtype)));
  return true;
}

int alignment(std::initializer_list<const void*> ptrs) {
  uintptr_t bits = 16;
  for (const void* p : ptrs) bits |= reinterpret_cast<uintptr_t>(p);
  return static_cast<int>(bits & (~bits + 1));  // the lowest set bit: 4, 8 or 16
}

Key make_key(Dir dir, DType dtype, const Shape& xs, const Shape& ws, const Conv2dParams& p,
             std::initializer_list<const void*> ptrs) {
  int dev = 0;
  SADANET_CUDA_CHECK(cudaGetDevice(&dev));
  Key k{dir, dtype, dev, {xs[0], xs[1], xs[2], xs[3]}, {ws[0], ws[1], ws[2], ws[3]},
        p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w,
        dtype == DType::f32 && tf32_enabled(), alignment(ptrs)};
  return k;
}

size_t find_workspace_limit() {
  size_t free_b = 0, total_b = 0;
  SADANET_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return std::min(kMaxWorkspace, free_b / 2) / (1 << 20) * (1 << 20);
}

// The first (fastest) acceptable result of a cudnnFind*Ex call.
template <class Perf> Choice pick(const Perf* perf, int n, DType dtype, size_t limit) {
  const bool exact_f32 = dtype == DType::f32 && !tf32_enabled();
  for (int i = 0; i < n; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > limit) continue;
    if (exact_f32 && perf[i].mathType != CUDNN_FMA_MATH) continue;
    Choice c;
    c.ok = true;
    c.algo = static_cast<int>(perf[i].algo);
    c.workspace = perf[i].memory;
    c.math = exact_f32 ? CUDNN_FMA_MATH : perf[i].mathType;
    return c;
  }
  return Choice{};
}

// Runs find() once per key (under the cache lock, so concurrent first calls do not race to time
// the same case). `find(workspace, limit)` returns the Choice.
template <class Find> Choice choose(const Key& key, Find&& find) {
  std::lock_guard<std::mutex> lock(g_cache_mu);
  auto it = cache().find(key);
  if (it != cache().end()) return it->second;
  const size_t limit = find_workspace_limit();
  DeviceBuffer ws(limit, key.device);
  Choice c = find(ws.get(), limit);
  cache()[key] = c;
  return c;
}

// cudnnFind*Ex reports an unsupported case as a status: remember "no algorithm" instead of failing.
bool find_failed(cudnnStatus_t st) {
  if (st == CUDNN_STATUS_SUCCESS) return false;
  if (st == CUDNN_STATUS_NOT_SUPPORTED || st == CUDNN_STATUS_BAD_PARAM) return true;
  throw Error(detail::concat("cuDNN algorithm search failed: ", cudnnGetErrorString(st)));
}

template <class T> struct Scale {
  T one = T(1), zero = T(0);
};

// The status of an execution call. An algorithm that Find offered and the execution then refuses
// as unsupported (a NOT_SUPPORTED status) turns the case over to the implicit GEMM, as a case Find
// had nothing for; the refusal is remembered (cudnn_conv_choices shows it). Anything else is an
// error of the call.
bool executed(const Key& key, const Choice& c, cudnnStatus_t st, const char* call) {
  if (st == CUDNN_STATUS_SUCCESS) return true;
  if (static_cast<int>(st) / 1000 == static_cast<int>(CUDNN_STATUS_NOT_SUPPORTED) / 1000) {
    std::lock_guard<std::mutex> lock(g_cache_mu);
    Choice refused;
    refused.refused = c.algo;
    cache()[key] = refused;
    return false;
  }
  throw Error(detail::concat("cuDNN error in ", call, " (algorithm ", c.algo, "): ", cudnnGetErrorString(st)));
}

}  // namespace

bool conv2d_forward_cudnn(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  Descriptors d;
  if (!describe(d, x.dtype(), x.shape(), w.shape(), y.shape(), p)) return false;
  CudnnHandle& h = cudnn_handle();
  std::lock_guard<std::mutex> lock(h.mu);
  SADANET_CUDNN_CHECK(cudnnSetStream(h.handle, current_stream()));
  const Key key = make_key(Dir::forward, x.dtype(), x.shape(), w.shape(), p, {x.raw_data(), w.raw_data(), y.raw_data()});
  const Choice c = choose(key, [&](void* ws, size_t limit) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    if (find_failed(cudnnFindConvolutionForwardAlgorithmEx(h.handle, d.x, x.raw_data(), d.w, w.raw_data(), d.conv, d.y,
                                                           y.raw_data(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, ws,
                                                           limit)))
      return Choice{};
    return pick(perf, n, x.dtype(), limit);
  });
  if (!c.ok) return false;
  SADANET_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, c.math));
  DeviceBuffer ws(c.workspace, y.device().index);
  bool ok = false;
  dispatch_floating(x.dtype(), "conv2d_forward", [&]<class T>() {
    const Scale<T> s;
    ok = executed(key, c,
                  cudnnConvolutionForward(h.handle, &s.one, d.x, x.raw_data(), d.w, w.raw_data(), d.conv,
                                          static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), ws.get(), c.workspace,
                                          &s.zero, d.y, y.raw_data()),
                  "cudnnConvolutionForward");
    if (ok && bias.defined())
      SADANET_CUDNN_CHECK(cudnnAddTensor(h.handle, &s.one, d.bias, bias.raw_data(), &s.one, d.y, y.raw_data()));
  });
  return ok;
}

bool conv2d_backward_input_cudnn(const Tensor& gy, const Tensor& w, const Conv2dParams& p, Tensor& gx) {
  Descriptors d;
  if (!describe(d, gy.dtype(), gx.shape(), w.shape(), gy.shape(), p)) return false;
  CudnnHandle& h = cudnn_handle();
  std::lock_guard<std::mutex> lock(h.mu);
  SADANET_CUDNN_CHECK(cudnnSetStream(h.handle, current_stream()));
  const Key key =
      make_key(Dir::backward_input, gy.dtype(), gx.shape(), w.shape(), p, {gy.raw_data(), w.raw_data(), gx.raw_data()});
  const Choice c = choose(key, [&](void* ws, size_t limit) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int n = 0;
    if (find_failed(cudnnFindConvolutionBackwardDataAlgorithmEx(h.handle, d.w, w.raw_data(), d.y, gy.raw_data(), d.conv,
                                                                d.x, gx.raw_data(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                &n, perf, ws, limit)))
      return Choice{};
    return pick(perf, n, gy.dtype(), limit);
  });
  if (!c.ok) return false;
  SADANET_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, c.math));
  DeviceBuffer ws(c.workspace, gx.device().index);
  bool ok = false;
  dispatch_floating(gy.dtype(), "conv2d_backward_input", [&]<class T>() {
    const Scale<T> s;
    ok = executed(key, c,
                  cudnnConvolutionBackwardData(h.handle, &s.one, d.w, w.raw_data(), d.y, gy.raw_data(), d.conv,
                                               static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo), ws.get(),
                                               c.workspace, &s.zero, d.x, gx.raw_data()),
                  "cudnnConvolutionBackwardData");
  });
  return ok;
}

bool conv2d_backward_weight_cudnn(const Tensor& gy, const Tensor& x, const Conv2dParams& p, Tensor& gw) {
  Descriptors d;
  if (!describe(d, gy.dtype(), x.shape(), gw.shape(), gy.shape(), p)) return false;
  CudnnHandle& h = cudnn_handle();
  std::lock_guard<std::mutex> lock(h.mu);
  SADANET_CUDNN_CHECK(cudnnSetStream(h.handle, current_stream()));
  const Key key =
      make_key(Dir::backward_weight, gy.dtype(), x.shape(), gw.shape(), p, {gy.raw_data(), x.raw_data(), gw.raw_data()});
  const Choice c = choose(key, [&](void* ws, size_t limit) {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int n = 0;
    if (find_failed(cudnnFindConvolutionBackwardFilterAlgorithmEx(h.handle, d.x, x.raw_data(), d.y, gy.raw_data(), d.conv,
                                                                  d.w, gw.raw_data(),
                                                                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf, ws,
                                                                  limit)))
      return Choice{};
    return pick(perf, n, gy.dtype(), limit);
  });
  if (!c.ok) return false;
  SADANET_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, c.math));
  DeviceBuffer ws(c.workspace, gw.device().index);
  bool ok = false;
  dispatch_floating(gy.dtype(), "conv2d_backward_weight", [&]<class T>() {
    const Scale<T> s;
    ok = executed(key, c,
                  cudnnConvolutionBackwardFilter(h.handle, &s.one, d.x, x.raw_data(), d.y, gy.raw_data(), d.conv,
                                                 static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), ws.get(),
                                                 c.workspace, &s.zero, d.w, gw.raw_data()),
                  "cudnnConvolutionBackwardFilter");
  });
  return ok;
}

std::string cudnn_conv_choices() {
  std::lock_guard<std::mutex> lock(g_cache_mu);
  std::ostringstream os;
  for (const auto& [k, c] : cache()) {
    os << dir_name(k.dir) << " " << dtype_name(k.dtype) << " cuda:" << k.device << " x[" << k.x[0] << "," << k.x[1]
       << "," << k.x[2] << "," << k.x[3] << "] w[" << k.w[0] << "," << k.w[1] << "," << k.w[2] << "," << k.w[3]
       << "] stride " << k.sh << "," << k.sw << " pad " << k.ph << "," << k.pw << " dil " << k.dh << "," << k.dw
       << (k.tf32 ? " tf32" : "") << " align " << k.align << ": ";
    if (c.ok)
      os << "algo " << c.algo << ", workspace " << c.workspace << " B, math "
         << (c.math == CUDNN_FMA_MATH ? "fma" : c.math == CUDNN_DEFAULT_MATH ? "default" : "tensor_op") << "\n";
    else if (c.refused >= 0)
      os << "implicit_gemm (cuDNN refused algo " << c.refused << " at run time)\n";
    else
      os << "implicit_gemm (no cuDNN algorithm)\n";
  }
  return os.str();
}

}  // namespace sadanet::cuda

#else  // !SADANET_WITH_CUDNN

namespace sadanet::cuda {
bool conv2d_forward_cudnn(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&, Tensor&) { return false; }
bool conv2d_backward_input_cudnn(const Tensor&, const Tensor&, const Conv2dParams&, Tensor&) { return false; }
bool conv2d_backward_weight_cudnn(const Tensor&, const Tensor&, const Conv2dParams&, Tensor&) { return false; }
std::string cudnn_conv_choices() { return "cuDNN is not built into this library\n"; }
}  // namespace sadanet::cuda

#endif
