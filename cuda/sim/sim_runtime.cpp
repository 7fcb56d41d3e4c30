// The simulated device's host-side runtime: one device with sm_90's limits, memory that is host
// memory (tracked, so a pointer can be checked to be "device" memory), synchronous copies,
// streams and events that only keep order and time, and CUDA's error reporting (a per-host-thread
// last error; cudaGetErrorString adds what the simulation knows about the last failure).
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "sim_internal.h"

namespace cuda_sim {
namespace {

std::mutex g_settings_mu;
bool g_settings_read = false;
Settings g_settings;

long env_long(const char* name, long fallback, long lo, long hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi) {
    std::fprintf(stderr, "cuda sim: %s=%s is not an integer in [%ld, %ld]; using %ld\n", name, v, lo, hi, fallback);
    return fallback;
  }
  return x;
}

Settings read_env() {
  Settings s;
  s.sm_count = static_cast<int>(env_long("SADANET_CUDA_SIM_SMS", 132, 1, 1024));
  s.host_threads = static_cast<int>(env_long("SADANET_CUDA_SIM_THREADS", 2, 1, 256));
  s.seed = static_cast<uint64_t>(env_long("SADANET_CUDA_SIM_SEED", 1, 0, 0x7fffffffffffffffL));
  s.memory_bytes = static_cast<size_t>(env_long("SADANET_CUDA_SIM_MEMORY_MB", 16384, 1, 1 << 24)) << 20;
  s.poison = env_long("SADANET_CUDA_SIM_POISON", 1, 0, 1) == 1;
  s.order = Order::forward;
  if (const char* o = std::getenv("SADANET_CUDA_SIM_ORDER"); o && *o) {
    const std::string v = o;
    if (v == "reverse") s.order = Order::reverse;
    else if (v == "random") s.order = Order::random;
    else if (v != "forward")
      std::fprintf(stderr, "cuda sim: SADANET_CUDA_SIM_ORDER=%s is not forward, reverse or random; using forward\n", o);
  }
  return s;
}

// ---- memory ----------------------------------------------------------------------------------------------

struct Memory {
  std::mutex mu;
  std::map<uintptr_t, size_t> device;  // base -> size of live cudaMalloc blocks
  std::set<uintptr_t> host;            // cudaMallocHost blocks
  size_t used = 0;
};
Memory& memory() {
  static auto* m = new Memory();  // never destroyed: frees may come during exit
  return *m;
}

constexpr size_t kAlign = 256;  // cudaMalloc's alignment

bool in_device_locked(Memory& m, uintptr_t p, size_t bytes) {
  auto it = m.device.upper_bound(p);
  if (it == m.device.begin()) return false;
  --it;
  return p >= it->first && p - it->first <= it->second && bytes <= it->second - (p - it->first) &&
         (bytes > 0 || p < it->first + it->second);
}

// ---- errors ------------------------------------------------------------------------------------------------

thread_local cudaError_t tl_last_error = cudaSuccess;
thread_local cudaError_t tl_detail_code = cudaSuccess;
thread_local std::string tl_detail;
std::atomic<int> g_device_count_error{0};
std::atomic<int> g_sticky_error{0};

struct ErrorName {
  cudaError_t code;
  const char* name;
  const char* text;
};
constexpr ErrorName kErrors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorLaunchOutOfResources, "cudaErrorLaunchOutOfResources", "too many resources requested for launch"},
    {cudaErrorIllegalInstruction, "cudaErrorIllegalInstruction", "an illegal instruction was encountered"},
    {cudaErrorMisalignedAddress, "cudaErrorMisalignedAddress", "misaligned address"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
    {cudaErrorUnknown, "cudaErrorUnknown", "unknown error"},
};
const ErrorName& error_entry(cudaError_t e) {
  for (const auto& n : kErrors)
    if (n.code == e) return n;
  return kErrors[sizeof(kErrors) / sizeof(kErrors[0]) - 1];
}

// ---- streams and events --------------------------------------------------------------------------------------

struct CudaObjects {
  std::mutex mu;
  std::set<const void*> streams, events;
};
CudaObjects& objects() {
  static auto* o = new CudaObjects();
  return *o;
}

}  // namespace

// The stream objects: only their identity matters (everything runs synchronously, in order).
}  // namespace cuda_sim
struct CUstream_st {
  int unused = 0;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point when{};
  bool recorded = false;
};
namespace cuda_sim {

Settings settings() {
  std::lock_guard<std::mutex> lock(g_settings_mu);
  if (!g_settings_read) {
    g_settings = read_env();
    g_settings_read = true;
  }
  return g_settings;
}

void set_settings(const Settings& s) {
  std::lock_guard<std::mutex> lock(g_settings_mu);
  g_settings = s;
  g_settings_read = true;
}

bool device_range(const void* p, size_t bytes) {
  if (!p) return bytes == 0;
  auto& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  return in_device_locked(m, reinterpret_cast<uintptr_t>(p), bytes);
}

void set_device_count_error(cudaError_t e) { g_device_count_error.store(static_cast<int>(e)); }
void set_sticky_error(cudaError_t e) { g_sticky_error.store(static_cast<int>(e)); }

namespace detail {

cudaError_t fail(cudaError_t e, const std::string& what) {
  tl_last_error = e;
  tl_detail_code = e;
  tl_detail = std::string(error_entry(e).text) + " (CUDA simulation: " + what + ")";
  return e;
}

cudaError_t succeed() { return cudaSuccess; }

cudaError_t sticky(const char* call) {
  const auto e = static_cast<cudaError_t>(g_sticky_error.load());
  if (e == cudaSuccess) return cudaSuccess;
  return fail(e, std::string(call) + ": the device is in the error state an earlier fault left (set by the test)");
}

bool valid_stream(cudaStream_t s) {
  if (s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread) return true;
  auto& o = objects();
  std::lock_guard<std::mutex> lock(o.mu);
  return o.streams.count(s) > 0;
}

}  // namespace detail
}  // namespace cuda_sim

using cuda_sim::detail::fail;
using cuda_sim::detail::succeed;

// ---- device -----------------------------------------------------------------------------------------------------

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return fail(cudaErrorInvalidValue, "cudaGetDeviceCount: count is null");
  // SADANET_CUDA_SIM_DEVICE_ERROR=<CUDA error number> plays a machine whose device query fails,
  // for tests of the command-line tool.
  static const int env_error = static_cast<int>(cuda_sim::env_long("SADANET_CUDA_SIM_DEVICE_ERROR", 0, 0, 100000));
  const int set = cuda_sim::g_device_count_error.load();
  const auto e = static_cast<cudaError_t>(set ? set : env_error);
  if (e != cudaSuccess) {
    *count = 0;
    return fail(e, "cudaGetDeviceCount: error set by the test");
  }
  *count = 1;
  return succeed();
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return fail(cudaErrorInvalidValue, "cudaGetDevice: device is null");
  *device = 0;
  return succeed();
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice, std::string("cudaSetDevice(") + std::to_string(device) + "): one device");
  return succeed();
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (!p) return fail(cudaErrorInvalidValue, "cudaGetDeviceProperties: prop is null");
  if (device != 0) return fail(cudaErrorInvalidDevice, "cudaGetDeviceProperties: one device");
  const auto s = cuda_sim::settings();
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof(p->name), "sadanet CUDA simulator (sm_90 limits, %d SMs)", s.sm_count);
  p->totalGlobalMem = s.memory_bytes;
  p->sharedMemPerBlock = cuda_sim::kMaxStaticShared;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = cuda_sim::kMaxThreadsPerBlock;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 0x7fffffff;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->clockRate = 1980000;
  p->multiProcessorCount = s.sm_count;
  p->major = 9;
  p->minor = 0;
  p->l2CacheSize = 50 << 20;
  p->maxThreadsPerMultiProcessor = 2048;
  p->sharedMemPerMultiprocessor = 228 << 10;
  p->memoryBusWidth = 6144;
  return succeed();
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return fail(cudaErrorInvalidValue, "cudaDeviceGetAttribute: value is null");
  cudaDeviceProp p;
  if (cudaError_t e = cudaGetDeviceProperties(&p, device); e != cudaSuccess) return e;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(p.sharedMemPerBlock); break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    default: return fail(cudaErrorInvalidValue, "cudaDeviceGetAttribute: attribute not simulated");
  }
  return succeed();
}

cudaError_t cudaDeviceSynchronize() { return cuda_sim::detail::sticky("cudaDeviceSynchronize"); }
cudaError_t cudaDeviceReset() {
  cuda_sim::tl_last_error = cudaSuccess;
  cuda_sim::g_sticky_error.store(0);
  return succeed();
}
cudaError_t cudaDriverGetVersion(int* v) {
  if (!v) return fail(cudaErrorInvalidValue, "cudaDriverGetVersion: null");
  *v = 13000;
  return succeed();
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  if (!v) return fail(cudaErrorInvalidValue, "cudaRuntimeGetVersion: null");
  *v = 13000;
  return succeed();
}

// ---- memory -----------------------------------------------------------------------------------------------------

cudaError_t cudaMalloc(void** ptr, size_t size) {
  if (!ptr) return fail(cudaErrorInvalidValue, "cudaMalloc: ptr is null");
  *ptr = nullptr;
  if (cudaError_t e = cuda_sim::detail::sticky("cudaMalloc"); e != cudaSuccess) return e;
  if (size == 0) return succeed();
  const auto s = cuda_sim::settings();
  auto& m = cuda_sim::memory();
  const size_t rounded = (size + cuda_sim::kAlign - 1) / cuda_sim::kAlign * cuda_sim::kAlign;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (rounded > s.memory_bytes || m.used > s.memory_bytes - rounded)
      return fail(cudaErrorMemoryAllocation, std::string("cudaMalloc(") + std::to_string(size) + "): " + std::to_string(m.used) +
                                                 std::string(" of ") + std::to_string(s.memory_bytes) + " bytes in use");
  }
  void* p = std::aligned_alloc(cuda_sim::kAlign, rounded);
  if (!p) return fail(cudaErrorMemoryAllocation, "cudaMalloc: the host is out of memory");
  // Fresh device memory holds garbage on a GPU; NaN bytes make a read-before-write show.
  if (s.poison) std::memset(p, 0xff, rounded);
  std::lock_guard<std::mutex> lock(m.mu);
  m.device[reinterpret_cast<uintptr_t>(p)] = size;
  m.used += rounded;
  *ptr = p;
  return succeed();
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return succeed();
  auto& m = cuda_sim::memory();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    auto it = m.device.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == m.device.end()) return fail(cudaErrorInvalidValue, "cudaFree: not a pointer cudaMalloc returned");
    m.used -= (it->second + cuda_sim::kAlign - 1) / cuda_sim::kAlign * cuda_sim::kAlign;
    m.device.erase(it);
  }
  std::free(ptr);
  return succeed();
}

cudaError_t cudaMallocHost(void** ptr, size_t size) { return cudaHostAlloc(ptr, size, cudaHostAllocDefault); }

cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int) {
  if (!ptr) return fail(cudaErrorInvalidValue, "cudaHostAlloc: ptr is null");
  void* p = std::aligned_alloc(cuda_sim::kAlign, (std::max<size_t>(size, 1) + cuda_sim::kAlign - 1) / cuda_sim::kAlign *
                                                     cuda_sim::kAlign);
  if (!p) return fail(cudaErrorMemoryAllocation, "cudaHostAlloc: the host is out of memory");
  auto& m = cuda_sim::memory();
  std::lock_guard<std::mutex> lock(m.mu);
  m.host.insert(reinterpret_cast<uintptr_t>(p));
  *ptr = p;
  return succeed();
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return succeed();
  auto& m = cuda_sim::memory();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (!m.host.erase(reinterpret_cast<uintptr_t>(ptr)))
      return fail(cudaErrorInvalidValue, "cudaFreeHost: not a pointer cudaHostAlloc returned");
  }
  std::free(ptr);
  return succeed();
}

cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
  if (!free_b || !total_b) return fail(cudaErrorInvalidValue, "cudaMemGetInfo: null");
  const auto s = cuda_sim::settings();
  auto& m = cuda_sim::memory();
  std::lock_guard<std::mutex> lock(m.mu);
  *total_b = s.memory_bytes;
  *free_b = m.used < s.memory_bytes ? s.memory_bytes - m.used : 0;
  return succeed();
}

namespace {

const char* kind_name(cudaMemcpyKind k) {
  switch (k) {
    case cudaMemcpyHostToHost: return "HostToHost";
    case cudaMemcpyHostToDevice: return "HostToDevice";
    case cudaMemcpyDeviceToHost: return "DeviceToHost";
    case cudaMemcpyDeviceToDevice: return "DeviceToDevice";
    case cudaMemcpyDefault: return "Default";
  }
  return "?";
}

std::string hex(const void* p) {
  char b[32];
  std::snprintf(b, sizeof(b), "%p", p);
  return b;
}

// The copy direction says which side is device memory: both checked, as a GPU would fault (or
// the runtime refuse) on a host pointer where device memory is expected.
cudaError_t check_sides(const char* call, void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection, std::string(call) + ": kind " + std::to_string(kind));
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dst_dev && !cuda_sim::device_range(dst, count))
    return fail(cudaErrorInvalidValue, std::string(call) + " " + kind_name(kind) + ": destination " + hex(dst) + " + " +
                                           std::to_string(count) + " bytes is not inside one device allocation");
  if (src_dev && !cuda_sim::device_range(src, count))
    return fail(cudaErrorInvalidValue, std::string(call) + " " + kind_name(kind) + ": source " + hex(src) + " + " +
                                           std::to_string(count) + " bytes is not inside one device allocation");
  if (!dst || !src) return fail(cudaErrorInvalidValue, std::string(call) + ": null pointer");
  return cudaSuccess;
}

}  // namespace

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (cudaError_t e = cuda_sim::detail::sticky("cudaMemcpy"); e != cudaSuccess) return e;
  if (count == 0) return succeed();
  if (cudaError_t e = check_sides("cudaMemcpy", dst, src, count, kind); e != cudaSuccess) return e;
  std::memmove(dst, src, count);
  return succeed();
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (!cuda_sim::detail::valid_stream(stream)) return fail(cudaErrorInvalidResourceHandle, "cudaMemcpyAsync: stream");
  if (cudaError_t e = cuda_sim::detail::sticky("cudaMemcpyAsync"); e != cudaSuccess) return e;
  if (count == 0) return succeed();
  if (cudaError_t e = check_sides("cudaMemcpyAsync", dst, src, count, kind); e != cudaSuccess) return e;
  std::memmove(dst, src, count);
  return succeed();
}

cudaError_t cudaMemset(void* ptr, int value, size_t count) { return cudaMemsetAsync(ptr, value, count, nullptr); }

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  if (!cuda_sim::detail::valid_stream(stream)) return fail(cudaErrorInvalidResourceHandle, "cudaMemsetAsync: stream");
  if (cudaError_t e = cuda_sim::detail::sticky("cudaMemset"); e != cudaSuccess) return e;
  if (count == 0) return succeed();
  if (!cuda_sim::device_range(ptr, count))
    return fail(cudaErrorInvalidValue, std::string("cudaMemset: ") + hex(ptr) + " + " + std::to_string(count) +
                                           " bytes is not inside one device allocation");
  std::memset(ptr, value, count);
  return succeed();
}

// ---- streams and events -------------------------------------------------------------------------------------------

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  if (!stream) return fail(cudaErrorInvalidValue, "cudaStreamCreate: null");
  *stream = new CUstream_st();
  auto& o = cuda_sim::objects();
  std::lock_guard<std::mutex> lock(o.mu);
  o.streams.insert(*stream);
  return succeed();
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  auto& o = cuda_sim::objects();
  {
    std::lock_guard<std::mutex> lock(o.mu);
    if (!o.streams.erase(stream)) return fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: unknown stream");
  }
  delete stream;
  return succeed();
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (!cuda_sim::detail::valid_stream(stream))
    return fail(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: unknown stream");
  return cuda_sim::detail::sticky("cudaStreamSynchronize");
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (!event) return fail(cudaErrorInvalidValue, "cudaEventCreate: null");
  *event = new CUevent_st();
  auto& o = cuda_sim::objects();
  std::lock_guard<std::mutex> lock(o.mu);
  o.events.insert(*event);
  return succeed();
}

namespace {
bool known_event(cudaEvent_t e) {
  auto& o = cuda_sim::objects();
  std::lock_guard<std::mutex> lock(o.mu);
  return o.events.count(e) > 0;
}
}  // namespace

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  auto& o = cuda_sim::objects();
  {
    std::lock_guard<std::mutex> lock(o.mu);
    if (!o.events.erase(event)) return fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy: unknown event");
  }
  delete event;
  return succeed();
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!known_event(event) || !cuda_sim::detail::valid_stream(stream))
    return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown event or stream");
  event->when = std::chrono::steady_clock::now();
  event->recorded = true;
  return succeed();
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!known_event(event)) return fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: unknown event");
  return succeed();
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return fail(cudaErrorInvalidValue, "cudaEventElapsedTime: null");
  if (!known_event(start) || !known_event(end))
    return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: unknown event");
  if (!start->recorded || !end->recorded) return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: not recorded");
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return succeed();
}

// ---- errors ---------------------------------------------------------------------------------------------------------

cudaError_t cudaGetLastError() {
  const cudaError_t e = cuda_sim::tl_last_error;
  cuda_sim::tl_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() { return cuda_sim::tl_last_error; }

const char* cudaGetErrorString(cudaError_t error) {
  // The detail of the most recent failure with this code on this host thread, if any.
  if (error != cudaSuccess && error == cuda_sim::tl_detail_code && !cuda_sim::tl_detail.empty())
    return cuda_sim::tl_detail.c_str();
  return cuda_sim::error_entry(error).text;
}

const char* cudaGetErrorName(cudaError_t error) { return cuda_sim::error_entry(error).name; }
