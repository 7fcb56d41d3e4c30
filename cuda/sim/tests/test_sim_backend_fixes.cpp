// Tests of fixes to the CUDA backend that only the simulation can show without a GPU: how a
// failing device query, a faulted device and an exhausted one are reported, that cuBLAS runs
// with sadanet's workspace, that a cuDNN algorithm chosen for aligned buffers is not reused for
// misaligned ones, and the SADANET_CUDA_SYNC switch. Suite CudaSimBackend: label `cuda`.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "conv_cuda.h"
#include "cuda_allocator.h"
#include "cuda_check.h"
#include "cuda_config.h"
#include "cuda_launch.h"
#include "sadanet/sadanet.h"

namespace sadanet {
namespace {

const Device kGpu(DeviceType::cuda, 0);

// |got - want| <= atol + rtol |want| everywhere (same shapes).
bool allclose(const Tensor& got, const Tensor& want, double atol, double rtol) {
  if (got.shape() != want.shape()) return false;
  const auto g = got.contiguous().to_vector<double>(), w = want.contiguous().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]))) return false;
  return true;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(CudaSimBackend, FailingDeviceQueryIsReportedNotTakenForNoGpu) {
  ASSERT_EQ(cuda_device_count(), 1);
  EXPECT_EQ(cuda_unavailable_reason(), "");
  cuda_sim::set_device_count_error(cudaErrorInsufficientDriver);
  EXPECT_EQ(cuda_device_count(), 0);
  const std::string why = cuda_unavailable_reason();
  cuda_sim::set_device_count_error(cudaSuccess);
  EXPECT_NE(why.find("cudaGetDeviceCount failed with cudaErrorInsufficientDriver"), std::string::npos) << why;
  EXPECT_NE(why.find("R580 series"), std::string::npos) << why;
  // A machine that simply has no GPU says so, without an error.
  cuda_sim::set_device_count_error(cudaErrorNoDevice);
  const std::string none = cuda_unavailable_reason();
  cuda_sim::set_device_count_error(cudaSuccess);
  EXPECT_EQ(none, "no CUDA device is present");
  EXPECT_EQ(cuda_device_count(), 1);
}

TEST(CudaSimBackend, GemmRunsWithSadanetsWorkspace) {
  Generator gen(7);
  const Tensor a = randn({33, 17}, TensorOptions(), &gen), b = randn({17, 9}, TensorOptions(), &gen);
  const long long before = cublasSimGemmCallsAll();
  const Tensor c = matmul(a.to(kGpu), b.to(kGpu));
  ASSERT_EQ(cublasSimGemmCallsAll(), before + 1);
  const CublasSimGemm last = cublasSimLastGemm();
  // cublasSetStream resets the workspace; sadanet sets its own again after it.
  EXPECT_TRUE(last.used_user_workspace) << "the GEMM ran on cuBLAS's default pool, outside sadanet's allocator";
  EXPECT_EQ(last.stream, nullptr);
  EXPECT_FALSE(last.tf32) << "f32 is exact unless TF32 is switched on";
  EXPECT_TRUE(allclose(c.to(kCPU), matmul(a, b), 1e-5, 1e-5));
}

TEST(CudaSimBackend, AllocationOnAFaultedDeviceIsNotCalledOutOfMemory) {
  cuda::empty_cache(0);
  cuda_sim::set_sticky_error(cudaErrorIllegalAddress);
  const std::string e = error_of([] { (void)empty({12345}, TensorOptions(kGpu)); });
  cuda_sim::set_sticky_error(cudaSuccess);
  EXPECT_EQ(e.find("out of memory"), std::string::npos) << e;
  EXPECT_NE(e.find("cudaErrorIllegalAddress"), std::string::npos) << e;
  EXPECT_NE(e.find("SADANET_CUDA_SYNC=1"), std::string::npos) << e;
  EXPECT_EQ(empty({12345}, TensorOptions(kGpu)).numel(), 12345) << "the device works again once the error is gone";
}

TEST(CudaSimBackend, AllocatorReturnsItsCacheBeforeRunningOutAndThenSaysHowMuchIsHeld) {
  cuda::empty_cache(0);
  const size_t held = cuda::memory_stats(0).reserved;  // live blocks of earlier tests in this process
  size_t free_b = 0, total_b = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_b, &total_b), cudaSuccess);
  const auto saved = cuda_sim::settings();
  auto small = saved;
  small.memory_bytes = (total_b - free_b) + (64u << 20);  // what is in use now, plus 64 MiB
  cuda_sim::set_settings(small);
  const int64_t mib = (1 << 20) / 4;  // f32 elements per MiB
  {
    Tensor t = empty({40 * mib}, TensorOptions(kGpu));
  }  // 40 MiB now cached
  EXPECT_EQ(cuda::memory_stats(0).reserved, held + (size_t{40} << 20));
  // 50 MiB do not fit beside the cached 40: the cache is released and the allocation retried.
  Tensor u = empty({50 * mib}, TensorOptions(kGpu));
  EXPECT_EQ(cuda::memory_stats(0).reserved, held + (size_t{50} << 20));
  const std::string e = error_of([&] { (void)empty({20 * mib}, TensorOptions(kGpu)); });
  cuda_sim::set_settings(saved);
  EXPECT_NE(e.find("out of memory asking for 20971520 bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("reserved " + std::to_string(held + (size_t{50} << 20))), std::string::npos) << e;
}

TEST(CudaSimBackend, CudnnAlgorithmForAlignedBuffersIsNotReusedForMisalignedOnes) {
  cuda::set_conv_backend(cuda::ConvBackend::cudnn);
  Generator gen(11);
  const Tensor w = randn({4, 3, 3, 3}, TensorOptions(), &gen);
  const Tensor big = randn({2, 3, 5, 5}, TensorOptions(), &gen);
  Conv2dParams p;
  p.pad_h = p.pad_w = 1;
  const Tensor wg = w.to(kGpu), big_g = big.to(kGpu);
  // The first image of `big` starts 16-byte aligned; the second 300 bytes further on.
  const Tensor aligned = big_g.slice(0, 0, 1), misaligned = big_g.slice(0, 1, 2);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(misaligned.raw_data()) % 16, 12u);
  cudnnSimClearCallLogAll();
  const Tensor y0 = conv2d(aligned, wg, Tensor(), p), y1 = conv2d(misaligned, wg, Tensor(), p);
  EXPECT_TRUE(allclose(y0.to(kCPU), conv2d(big.slice(0, 0, 1), w, Tensor(), p), 1e-5, 1e-4));
  EXPECT_TRUE(allclose(y1.to(kCPU), conv2d(big.slice(0, 1, 2).contiguous(), w, Tensor(), p), 1e-5, 1e-4));
  std::vector<int> algos;
  for (const auto& c : cudnnSimCallLogAll()) {
    if (c.op != CudnnSimOp::forward) continue;
    EXPECT_EQ(c.status, CUDNN_STATUS_SUCCESS) << "algorithm " << c.algo;
    algos.push_back(c.algo);
  }
  ASSERT_EQ(algos.size(), 2u);
  EXPECT_NE(algos[0], algos[1]) << "the misaligned call reused the aligned call's algorithm";
  EXPECT_NE(cuda::cudnn_conv_choices().find("align 4"), std::string::npos) << cuda::cudnn_conv_choices();
}

TEST(CudaSimBackend, AFailedCallIsNotReportedAgainByTheNextLaunch) {
  float host[4] = {};
  const std::string e = error_of([&] { SADANET_CUDA_CHECK(cudaMemcpy(host, host + 2, 8, cudaMemcpyDeviceToHost)); });
  EXPECT_NE(e.find("is not inside one device allocation"), std::string::npos) << e;
  // The next kernel launched must not take that error for its own.
  const Tensor one = ones({3}, TensorOptions(kGpu));
  EXPECT_EQ(add(one, one).to(kCPU).to_vector<float>(), (std::vector<float>{2, 2, 2}));
}

TEST(CudaSimBackend, SyncSwitchReportsAFaultAtTheLaunchThatCausedIt) {
  const cuda::LaunchConfig cfg(dim3(2), dim3(64));
  cuda_sim::set_sticky_error(cudaErrorIllegalAddress);  // as a kernel that faulted while running leaves it
  cuda::set_sync_launches(false);
  const std::string off = error_of([&] { cuda::check_launch("some_kernel", cfg); });
  cuda::set_sync_launches(true);
  const std::string on = error_of([&] { cuda::check_launch("some_kernel", cfg); });
  cuda::set_sync_launches(false);
  cuda_sim::set_sticky_error(cudaSuccess);
  EXPECT_EQ(off, "") << "without the switch a fault shows only at a later call";
  EXPECT_NE(on.find("CUDA kernel some_kernel (grid 2x1x1, block 64x1x1) failed while running (SADANET_CUDA_SYNC=1)"),
            std::string::npos)
      << on;
  EXPECT_NE(on.find("cudaErrorIllegalAddress"), std::string::npos) << on;
}

}  // namespace
}  // namespace sadanet
