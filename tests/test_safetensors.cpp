// safetensors: round trips of fresh random tensors of every dtype, the Python-written fixture,
// the atomic writer keeping the old file on failure, check_finite, and malformed headers (each
// must throw a sadanet::Error that names the problem, never crash).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "io/atomic_file.h"
#include "io_fixtures.h"
#include "op_table.h"  // test::run_seed
#include "sadanet/io/safetensors.h"
#include "sadanet/sadanet.h"

namespace sadanet {
namespace {

using io::NamedTensors;
using io::TensorFile;

constexpr DType kAllDTypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::i64, DType::u8};

// Random bytes make every bit pattern of every dtype (NaNs included) round-trip, not only values.
Tensor random_tensor(const Shape& shape, DType dt, std::mt19937_64& rng) {
  Tensor t = empty(shape, TensorOptions(dt));
  auto* p = static_cast<uint8_t*>(t.raw_data());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(rng());
  return t;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  auto* p = static_cast<const uint8_t*>(c.raw_data());
  return std::vector<uint8_t>(p, p + c.nbytes());
}

void expect_same(const NamedTensors& got, const NamedTensors& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(want[i].first);
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.dtype(), want[i].second.dtype());
    EXPECT_EQ(got[i].second.shape(), want[i].second.shape());
    EXPECT_TRUE(got[i].second.is_contiguous());
    EXPECT_EQ(bytes_of(got[i].second), bytes_of(want[i].second));
  }
}

// Builds a file from a header text and a data section, for the malformed-input tests.
std::vector<uint8_t> st_file(const std::string& header, size_t data_bytes = 0) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0x11);
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  if (!header.empty()) std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    io::read_safetensors_bytes(bytes.data(), bytes.size(), "test.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Safetensors, RoundTripsFreshRandomTensorsOfEveryDtype) {
  std::mt19937_64 rng(test::run_seed());
  NamedTensors tensors;
  for (DType dt : kAllDTypes) {
    std::string n = dtype_name(dt);
    tensors.emplace_back("layer." + n + ".weight", random_tensor({3, 5}, dt, rng));
    tensors.emplace_back(n + ".scalar", random_tensor({}, dt, rng));
    tensors.emplace_back(n + ".empty", random_tensor({0, 4}, dt, rng));
    tensors.emplace_back(n + ".transposed", random_tensor({4, 2}, dt, rng).t());  // written contiguous
  }
  std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "ünïcödé \"quoted\""}};
  test::TempDir dir;
  io::write_safetensors(dir.file("w.safetensors"), tensors, meta);
  TensorFile back = io::read_safetensors(dir.file("w.safetensors"));
  expect_same(back.tensors, tensors);
  EXPECT_EQ(back.metadata, meta);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"w.safetensors"});  // no temporary left behind

  // The in-memory writer produces the same bytes; the layout follows the spec.
  auto bytes = io::safetensors_bytes(tensors, meta);
  EXPECT_EQ(bytes, test::read_bytes(dir.file("w.safetensors")));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  EXPECT_EQ(bytes[8 + n - 1] == ' ' || bytes[8 + n - 1] == '}', true);
  expect_same(io::read_safetensors_bytes(bytes.data(), bytes.size()).tensors, tensors);
}

TEST(Safetensors, EmptyFileAndGradTensorsRoundTrip) {
  auto bytes = io::safetensors_bytes({});
  TensorFile f = io::read_safetensors_bytes(bytes.data(), bytes.size());
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_TRUE(f.metadata.empty());

  // Zero-length tensors at one offset keep the writer's order (the header's), not the alphabet's.
  NamedTensors empties{{"z", zeros({0})}, {"a", zeros({0, 2})}, {"m", ones({1})}, {"b", zeros({0})}};
  auto eb = io::safetensors_bytes(empties);
  expect_same(io::read_safetensors_bytes(eb.data(), eb.size()).tensors, empties);

  Tensor w = from_vector<float>({1, 2, 3}, {3}).set_requires_grad(true);
  auto b2 = io::safetensors_bytes({{"w", w * 2.0}});
  EXPECT_EQ(io::read_safetensors_bytes(b2.data(), b2.size()).tensors[0].second.to_vector<float>(),
            (std::vector<float>{2, 4, 6}));
}

TEST(Safetensors, ReadsThePythonWrittenFixture) {
  TensorFile f = io::read_safetensors(test::io_fixture("tiny.safetensors"));
  const auto& want = test::io_expected()["safetensors"];
  ASSERT_EQ(f.tensors.size(), want["tensors"].size());
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, want["tensors"][i][0].get<std::string>());
    EXPECT_EQ(test::match_expected(f.tensors[i].second, want["tensors"][i][1]), "") << f.tensors[i].first;
  }
  EXPECT_EQ(f.metadata, (want["metadata"].get<std::map<std::string, std::string>>()));
  EXPECT_NO_THROW(io::check_finite(f, "tiny.safetensors"));
}

TEST(Safetensors, WriterRefusesBadNames) {
  Tensor t = zeros({2});
  EXPECT_THROW(io::safetensors_bytes({{"a", t}, {"a", t}}), Error);
  EXPECT_THROW(io::safetensors_bytes({{"__metadata__", t}}), Error);
  EXPECT_THROW(io::safetensors_bytes({{"a", Tensor()}}), Error);
  EXPECT_THROW(io::safetensors_bytes({{std::string("bad\xff", 4), t}}), Error);  // not UTF-8
}

// ---- the checksum ---------------------------------------------------------------------------------

// Position of `needle` in the file's header; the test fails if it is not there.
size_t header_find(const std::vector<uint8_t>& bytes, const std::string& needle) {
  std::string text(bytes.begin(), bytes.end());
  size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return at;
}

TEST(SafetensorsChecksum, WrittenFilesVerifyAndFlippedBytesAreRefused) {
  std::mt19937_64 rng(test::run_seed());
  NamedTensors tensors{{"w", random_tensor({2, 3}, DType::f32, rng)}, {"b", random_tensor({6}, DType::u8, rng)}};
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"step", "1200"}};
  const auto good = io::safetensors_bytes(tensors, meta);
  TensorFile f = io::read_safetensors_bytes(good.data(), good.size());
  EXPECT_TRUE(f.verified);
  EXPECT_EQ(f.metadata, meta);  // the checksum is the reader's business, not the caller's
  header_find(good, "\"sadanet.xxh3\":\"");

  auto refused = [](std::vector<uint8_t> bytes, size_t at, const char* what) {
    bytes[at] ^= 0x01;
    std::string msg = error_of(bytes);
    EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << what << ": " << msg;
    EXPECT_NE(msg.find("corrupt"), std::string::npos) << what << ": " << msg;
    EXPECT_NE(msg.find("test.safetensors"), std::string::npos) << what << ": " << msg;
  };
  uint64_t n = 0;
  std::memcpy(&n, good.data(), 8);
  refused(good, 8 + n, "first byte of the first tensor");
  refused(good, good.size() - 1, "last byte of the last tensor");
  refused(good, header_find(good, "1200") + 3, "a metadata value");           // "1201"
  refused(good, header_find(good, "\"step\"") + 2, "a metadata key");        // "rtep"
}

TEST(SafetensorsChecksum, ReorderedShapeAndRenamedTensorAreRefused) {
  // Changes that keep the header valid and the sizes right: only the checksum can see them.
  std::mt19937_64 rng(test::run_seed());
  const auto good = io::safetensors_bytes({{"wa", random_tensor({2, 3}, DType::f32, rng)}}, {});
  auto shape = good;
  shape[header_find(shape, "[2,3]") + 1] = '3';
  shape[header_find(shape, "[3,3]") + 3] = '2';
  EXPECT_NE(error_of(shape).find("checksum mismatch"), std::string::npos) << error_of(shape);
  auto name = good;
  name[header_find(name, "\"wa\"") + 2] = 'b';
  EXPECT_NE(error_of(name).find("checksum mismatch"), std::string::npos) << error_of(name);
  auto sum = good;
  const size_t at = header_find(sum, "\"sadanet.xxh3\":\"") + 16;
  sum[at] = sum[at] == '0' ? '1' : '0';
  EXPECT_NE(error_of(sum).find("checksum mismatch"), std::string::npos) << error_of(sum);
  auto not_hex = good;
  not_hex[at] = 'x';
  EXPECT_NE(error_of(not_hex).find("checksum mismatch"), std::string::npos) << error_of(not_hex);
}

TEST(SafetensorsChecksum, FilesWithoutOneLoadUnverified) {
  auto plain = st_file(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 2);
  TensorFile f = io::read_safetensors_bytes(plain.data(), plain.size());
  EXPECT_FALSE(f.verified);
  EXPECT_EQ(f.tensors.size(), 1u);
  EXPECT_FALSE(io::read_safetensors(test::io_fixture("tiny.safetensors")).verified);  // written by Python
}

TEST(SafetensorsChecksum, WriterOwnsTheKey) {
  try {
    io::safetensors_bytes({{"a", zeros({1})}}, {{"sadanet.xxh3", "0000000000000000"}});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("writer's own"), std::string::npos) << e.what();
  }
}

// ---- atomic writing ------------------------------------------------------------------------------

class SafetensorsAtomic : public ::testing::Test {
 protected:
  void SetUp() override {
    old_ = {{"old", from_vector<float>({1, 2}, {2})}};
    io::write_safetensors(target(), old_, {{"v", "1"}});
    old_bytes_ = test::read_bytes(target());
  }
  std::string target() const { return dir_.file("model.safetensors"); }
  void expect_old_intact() {
    EXPECT_EQ(test::read_bytes(target()), old_bytes_);
    EXPECT_EQ(dir_.list(), std::vector<std::string>{"model.safetensors"});  // temp file removed
  }
  test::TempDir dir_;
  NamedTensors old_;
  std::vector<uint8_t> old_bytes_;
};

TEST_F(SafetensorsAtomic, ValidationFailureKeepsTheOldFile) {
  EXPECT_THROW(io::write_safetensors(target(), {{"new", ones({3})}, {"bad", Tensor()}}), Error);
  expect_old_intact();
}

TEST_F(SafetensorsAtomic, FailureMidWriteKeepsTheOldFile) {
  // Injected failure after part of the new contents reached the temporary file.
  try {
    io::AtomicFileWriter w(target());
    w.write("partial", 7);
    EXPECT_EQ(test::read_bytes(w.temp_path()).size(), 7u);
    throw Error("injected failure");
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "injected failure");
  }
  expect_old_intact();
}

TEST_F(SafetensorsAtomic, FailedRenameRemovesTheTemporaryFile) {
  // The target is a non-empty directory: everything is written, then rename() fails.
  std::string target_dir = dir_.file("model_dir.safetensors");
  ASSERT_EQ(::mkdir(target_dir.c_str(), 0755), 0);
  test::write_bytes(target_dir + "/keep", {1});
  try {
    io::write_safetensors(target_dir, {{"new", ones({3})}});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot rename"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dir_.list(), (std::vector<std::string>{"model.safetensors", "model_dir.safetensors"}));
  EXPECT_EQ(test::read_bytes(target()), old_bytes_);
}

TEST_F(SafetensorsAtomic, UnwritableDirectoryKeepsTheOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0555), 0);
  EXPECT_THROW(io::write_safetensors(target(), {{"new", ones({3})}}), Error);
  ::chmod(dir_.path().c_str(), 0755);
  expect_old_intact();
}

TEST_F(SafetensorsAtomic, SuccessReplacesTheFile) {
  NamedTensors fresh{{"new", from_vector<int64_t>({5, 6, 7}, {3})}};
  io::write_safetensors(target(), fresh);
  expect_same(io::read_safetensors(target()).tensors, fresh);
  EXPECT_EQ(dir_.list(), std::vector<std::string>{"model.safetensors"});
}

// ---- check_finite ----------------------------------------------------------------------------------

TEST(Safetensors, CheckFiniteNamesTheTensor) {
  auto file_with = [](Tensor t) { return TensorFile{{{"ok", ones({2})}, {"ints", zeros({2}, DType::i64)}, {"bad", t}}, {}}; };
  Tensor nan32 = from_vector<float>({1.f, NAN}, {2});
  try {
    io::check_finite(file_with(nan32), "m.safetensors");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'bad'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("element 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("m.safetensors"), std::string::npos) << msg;
  }
  EXPECT_THROW(io::check_finite(file_with(from_vector<double>({INFINITY}, {1})), "m"), Error);
  EXPECT_THROW(io::check_finite(file_with(from_vector<float>({0, -INFINITY}, {2}).to(DType::f16)), "m"), Error);
  EXPECT_THROW(io::check_finite(file_with(from_vector<float>({NAN}, {1}).to(DType::bf16)), "m"), Error);
  EXPECT_NO_THROW(io::check_finite(file_with(from_vector<float>({65504.f}, {1}).to(DType::f16)), "m"));
}

// ---- malformed files -------------------------------------------------------------------------------

struct BadCase {
  const char* what;
  std::vector<uint8_t> bytes;
  const char* expected;  // a fragment of the error message
};

std::vector<BadCase> bad_cases() {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  std::vector<uint8_t> absurd(16, 0);
  absurd[4] = 0x01;  // header length 2^32
  std::string long_list = "1";
  for (int i = 0; i < 100; ++i) long_list += ",1";
  std::vector<uint8_t> beyond = st_file("{}");
  beyond[0] = 200;
  return {
      {"empty", {}, "too short"},
      {"seven bytes", {1, 2, 3, 4, 5, 6, 7}, "too short"},
      {"absurd header size", absurd, "exceeds the limit"},
      {"header beyond the file", beyond, "runs past the end"},
      {"not an object", st_file("[1,2]   "), "does not start with '{'"},
      {"json error", st_file("{\"a\":"), "not valid JSON"},
      {"trailing garbage in header", st_file("{} x"), "not valid JSON"},
      {"duplicate tensor", st_file("{" + ok_entry + "," + ok_entry + "}", 8), "duplicate key 'a'"},
      {"duplicate field", st_file(R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
       "duplicate key 'dtype'"},
      {"unsupported dtype", st_file(R"({"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", 2),
       "unsupported dtype 'BOOL'"},
      {"F8", st_file(R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2), "'F8_E4M3'"},
      {"shape/bytes mismatch", st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "needs 12 bytes"},
      {"offsets outside", st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8),
       "run past the data section"},
      {"begin > end", st_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", 8), "begin > end"},
      {"overlap", st_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 6),
       "overlap"},
      {"hole", st_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", 4), "belong to no tensor"},
      {"trailing bytes", st_file("{" + ok_entry + "}", 12), "belong to no tensor"},
      {"negative dim", st_file(R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})"), "non-negative integer"},
      {"float dim", st_file(R"({"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,0]}})"), "non-negative integer"},
      {"huge shape", st_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})"),
       "too large"},
      {"overflowing bytes", st_file(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})"),
       "overflows"},
      {"missing field", st_file(R"({"a":{"dtype":"U8","shape":[0]}})"), "needs dtype, shape and data_offsets"},
      {"unknown field", st_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":1}})"), "unexpected field 'x'"},
      {"three offsets", st_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0,0]}})"), "[begin, end]"},
      {"entry not an object", st_file(R"({"a":3})"), "expected an object"},
      {"metadata not strings", st_file(R"({"__metadata__":{"k":1}})"), "must be a string"},
      {"metadata not an object", st_file(R"({"__metadata__":"k"})"), "must be an object"},
      {"deep nesting", st_file(R"({"a":{"shape":[[[[1]]]]}})"), "nests deeper"},
      {"long list", st_file(R"({"a":{"dtype":"U8","shape":[)" + long_list + "]}}"), "more than 64 items"},
  };
}

TEST(Safetensors, MalformedFilesThrowNamingTheProblem) {
  for (const BadCase& c : bad_cases()) {
    std::string msg = error_of(c.bytes);
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.what << ": got \"" << msg << "\"";
    EXPECT_NE(msg.find("test.safetensors"), std::string::npos) << c.what << ": " << msg;
  }
}

TEST(Safetensors, MissingFileAndDirectoryThrow) {
  test::TempDir dir;
  EXPECT_THROW(io::read_safetensors(dir.file("absent.safetensors")), Error);
  EXPECT_THROW(io::read_safetensors(dir.path()), Error);
}

TEST(Safetensors, EveryTruncationOfTheFixtureThrows) {
  auto bytes = test::read_bytes(test::io_fixture("tiny.safetensors"));
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(io::read_safetensors_bytes(prefix.data(), prefix.size()), Error) << "prefix of " << n << " bytes";
  }
}

// A header at the size limit made of ~1.5 million one-byte tensor entries, the shape that cost
// nlohmann's callback parser quadratic time (hours at this size). Linear, it takes a few seconds;
// the bound is loose for a loaded machine but far below what a quadratic pass would need.
TEST(SafetensorsSlow, HeaderAtTheSizeLimitParsesInLinearTime) {
  std::string header = R"({"__metadata__":{"format":"pt"})";
  header.reserve(io::kMaxSafetensorsHeader);
  char entry[128];
  size_t n = 0;
  for (;; ++n) {
    int len = std::snprintf(entry, sizeof entry, R"(,"t%zu":{"dtype":"U8","shape":[1],"data_offsets":[%zu,%zu]})", n, n,
                            n + 1);
    if (header.size() + static_cast<size_t>(len) + 1 > io::kMaxSafetensorsHeader) break;
    header.append(entry, static_cast<size_t>(len));
  }
  header += '}';
  header.resize(io::kMaxSafetensorsHeader, ' ');  // JSON allows trailing blanks: exactly at the limit
  std::vector<uint8_t> bytes = st_file(header, n);
  for (size_t i = 0; i < n; ++i) bytes[8 + header.size() + i] = static_cast<uint8_t>(i);

  const auto t0 = std::chrono::steady_clock::now();
  TensorFile f = io::read_safetensors_bytes(bytes.data(), bytes.size(), "big.safetensors");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%zu entries, %zu-byte header: parsed in %.2f s\n", n, header.size(), s);
  ASSERT_EQ(f.tensors.size(), n);
  EXPECT_GT(n, 1000000u);
  EXPECT_EQ(f.tensors[n - 1].first, "t" + std::to_string(n - 1));
  EXPECT_EQ(f.tensors[n - 1].second.to_vector<uint8_t>(), std::vector<uint8_t>{static_cast<uint8_t>(n - 1)});
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_LT(s, 30.0);
}

}  // namespace
}  // namespace sadanet
