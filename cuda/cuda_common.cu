// Out-of-line parts of cuda_common.cuh.
#include <algorithm>
#include <map>
#include <mutex>

#include "cuda_common.cuh"

namespace sadanet::cuda {

int sm_count() {
  int dev = 0;
  SADANET_CUDA_CHECK(cudaGetDevice(&dev));
  static std::mutex mu;
  static std::map<int, int> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(dev);
  if (it != cache.end()) return it->second;
  int n = 0;
  SADANET_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  if (n < 1) n = 1;
  cache[dev] = n;
  return n;
}

unsigned grid_for(int64_t n, int threads) {
  const int64_t want = ceil_div(n, threads);
  const int64_t cap = static_cast<int64_t>(sm_count()) * (2048 / threads) * 4;  // ~4 full waves
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(want, cap)));
}

DeviceGuard::DeviceGuard(const Device& d) {
  SADANET_CHECK(d.is_cuda(), "cuda: expected a CUDA device, got ", d.str());
  SADANET_CUDA_CHECK(cudaGetDevice(&prev_));
  if (prev_ != d.index) {
    SADANET_CUDA_CHECK(cudaSetDevice(d.index));
    changed_ = true;
  }
}

DeviceGuard::~DeviceGuard() {
  if (changed_) cudaSetDevice(prev_);  // a destructor does not throw; the next call reports errors
}

DeviceBuffer::DeviceBuffer(size_t nbytes, int device) : n_(nbytes), dev_(device) {
  if (nbytes) p_ = get_allocator(DeviceType::cuda)->allocate(nbytes, device);
}

DeviceBuffer::~DeviceBuffer() {
  if (p_) get_allocator(DeviceType::cuda)->deallocate(p_, n_, dev_);
}

void check_on_cuda(const char* kernel, const Tensor& t, const char* what) {
  SADANET_CHECK(t.device().is_cuda(), kernel, ": expected ", what, " on a CUDA device, got ", t.device().str());
}

// ---- IndexCheck -------------------------------------------------------------------------------------

namespace {

__global__ void validate_indices_kernel(const int64_t* __restrict__ idx, int64_t n, int64_t size, bool has_ignore,
                                        int64_t ignore, unsigned long long* flag) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t v = idx[k];
    if ((v < 0 || v >= size) && !(has_ignore && v == ignore)) atomicMin(flag, static_cast<unsigned long long>(k));
  }
}

int current_device() {
  int dev = 0;
  SADANET_CUDA_CHECK(cudaGetDevice(&dev));
  return dev;
}

}  // namespace

IndexCheck::IndexCheck(const char* kernel, const int64_t* index, int64_t n, int64_t size, bool has_ignore,
                       int64_t ignore)
    : index_(index), n_(n), flag_(n > 0 ? sizeof(unsigned long long) : 0, current_device()) {
  if (n <= 0) return;
  auto* flag = flag_.as<unsigned long long>();
  SADANET_CUDA_CHECK(cudaMemsetAsync(flag, 0xff, sizeof(unsigned long long), current_stream()));  // "none bad"
  SADANET_LAUNCH((grid_for(n), kThreads, 0, current_stream()), validate_indices_kernel)(index, n, size, has_ignore, ignore, flag);
}

bool IndexCheck::first_bad(int64_t& pos, int64_t& value) const {
  if (n_ <= 0) return false;
  unsigned long long first = 0;
  SADANET_CUDA_CHECK(cudaMemcpyAsync(&first, flag_.get(), sizeof(first), cudaMemcpyDeviceToHost, current_stream()));
  SADANET_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  if (first == ~0ull) return false;
  pos = static_cast<int64_t>(first);
  SADANET_CUDA_CHECK(cudaMemcpy(&value, index_ + pos, sizeof(int64_t), cudaMemcpyDeviceToHost));
  return true;
}

}  // namespace sadanet::cuda
