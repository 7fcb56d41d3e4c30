// io::write_pth_state_dict against sadanet's own .pth reader: every dtype it writes, a scalar, an
// empty and a non-contiguous tensor, records 64-byte aligned, the extra record, refusals. (That
// torch.load reads the files is checked in test_export.cpp, TorchvisionExport.*.)
#include <gtest/gtest.h>

#include <filesystem>

#include "data_fixtures.h"
#include "io/zip_reader.h"
#include "sadanet/io/pth.h"
#include "sadanet/ops.h"
#include "sadanet/random.h"

using namespace sadanet;

namespace {

TEST(PthWriter, RoundTripsThroughSadanetsReaderWithAlignedRecords) {
  test::ScratchDir dir;
  Generator gen(test::fresh_seed("pth tensors"));
  Tensor wide = randn({3, 5}, {}, &gen);
  io::NamedTensors in{
      {"conv.weight", randn({4, 3, 3, 3}, {}, &gen)},
      {"transposed", wide.t()},  // not contiguous: written as a contiguous copy
      {"bn.num_batches_tracked", scalar_tensor(12345678901.0, TensorOptions(DType::i64))},
      {"half", randn({7}, {}, &gen).to(DType::f16)},
      {"double", randn({2, 2}, TensorOptions(DType::f64), &gen)},
      {"empty", zeros({0, 4})},
      {"bytes", from_vector<uint8_t>({1, 2, 255}, {3})},
  };
  const std::string path = dir / "sd.pth";
  io::write_pth_state_dict(path, in, {{"sadanet.json", "{\"a\": 1}\n"}});
  io::NamedTensors back = io::load_pth_state_dict(path);
  ASSERT_EQ(back.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    SCOPED_TRACE(in[i].first);
    EXPECT_EQ(back[i].first, in[i].first);
    EXPECT_EQ(back[i].second.dtype(), in[i].second.dtype());
    EXPECT_EQ(back[i].second.shape(), in[i].second.shape());
    EXPECT_EQ(back[i].second.to_vector<double>(), in[i].second.to_vector<double>());
  }
  const std::string bytes = test::read_file(path);
  io::ZipReader zip(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  for (const io::ZipEntry& e : zip.entries()) EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
  ASSERT_NE(zip.find("archive/sadanet.json"), nullptr);
  EXPECT_EQ(zip.read(*zip.find("archive/sadanet.json")), "{\"a\": 1}\n");
  ASSERT_NE(zip.find("archive/version"), nullptr);
  EXPECT_EQ(zip.entries().front().name, "archive/data.pkl");  // torch finds the archive's folder by it
}

TEST(PthWriter, RefusesDuplicateNamesAndShadowingRecordsWritingNothing) {
  test::ScratchDir dir;
  const std::string path = dir / "sd.pth";
  EXPECT_THROW(io::write_pth_state_dict(path, {{"a", zeros({1})}, {"a", zeros({1})}}), Error);
  EXPECT_THROW(io::write_pth_state_dict(path, {{"a", zeros({1})}}, {{"data.pkl", "x"}}), Error);
  EXPECT_THROW(io::write_pth_state_dict(path, {{"a", zeros({1})}}, {{"data/0", "x"}}), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));  // no temporary file left behind
}

}  // namespace
