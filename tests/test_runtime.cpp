// Build and machine facts (runtime.h): consistent with each other and with the build.
#include <gtest/gtest.h>

#include <algorithm>

#include "sadanet/error.h"
#include "sadanet/runtime.h"

namespace sadanet {
namespace {

TEST(Runtime, VersionAndBuildInfoComeFromTheBuild) {
  EXPECT_EQ(version(), SADANET_VERSION);
  EXPECT_NE(build_info().find("cuda="), std::string::npos) << build_info();
  EXPECT_FALSE(cpu_name().empty());
}

TEST(Runtime, Avx2FmaAgreesWithTheFeatureList) {
  const auto f = cpu_features();
  const auto has = [&](const char* n) { return std::find(f.begin(), f.end(), n) != f.end(); };
  EXPECT_EQ(cpu_has_avx2_fma(), has("avx2") && has("fma"));
}

TEST(Runtime, ThreadCountRoundTrips) {
  const int before = num_threads();
  ASSERT_GE(before, 1);
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(before);
  EXPECT_EQ(num_threads(), before);
  EXPECT_THROW(set_num_threads(0), Error);
}

TEST(Runtime, GpuQueriesAreConsistent) {
  EXPECT_EQ(static_cast<size_t>(cuda_device_count()), cuda_device_names().size());
  if (!cuda_built()) EXPECT_EQ(cuda_device_count(), 0);
}

}  // namespace
}  // namespace sadanet
