// PyTorch .pth loading without Python: the fixtures torch.save wrote (zip, legacy, ZIP64,
// protocol 4, nested checkpoints, 'module.' prefixes) against expected.json; content-based format
// dispatch; pickles naming os.system/eval refused by name with nothing run; and crafted or
// damaged files, each of which must throw a sadanet::Error naming the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>

#include "io_fixtures.h"
#include "sadanet/io/pth.h"
#include "sadanet/io/weights.h"
#include "sadanet/sadanet.h"

namespace sadanet {
namespace {

using io::NamedTensors;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
std::string load_error(const std::vector<uint8_t>& bytes) {
  return error_of([&] { io::load_pth_bytes(bytes.data(), bytes.size(), "crafted.pth"); });
}
#define EXPECT_HAS(msg, fragment) EXPECT_NE((msg).find(fragment), std::string::npos) << "got: " << (msg)

void expect_fixture_state_dict(const NamedTensors& got) {
  const auto& want = test::io_expected()["state_dict"];
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i][0].get<std::string>());
    EXPECT_EQ(test::match_expected(got[i].second, want[i][1]), "") << got[i].first;
    EXPECT_TRUE(got[i].second.is_contiguous());
  }
}

class PthFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(PthFixture, LoadsTheStateDictTorchSaved) {
  expect_fixture_state_dict(io::load_pth_state_dict(test::io_fixture(GetParam())));
}

INSTANTIATE_TEST_SUITE_P(Pth, PthFixture,
                         ::testing::Values("plain_zip.pth", "plain_zip_proto4.pth", "plain_legacy.pth",
                                           "plain_zip64.pth", "nested_state_dict.pth", "module_prefix_legacy.pth"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.substr(0, n.find('.'));
                         });

TEST(Pth, ViewsOfOneStorageBecomeIndependentCopies) {
  NamedTensors sd = io::load_pth_state_dict(test::io_fixture("plain_zip.pth"));
  auto find = [&](const std::string& n) {
    for (auto& [k, t] : sd)
      if (k == n) return t;
    throw Error("missing " + n);
  };
  Tensor base = find("shared.base"), row = find("shared.row");
  EXPECT_NE(base.storage(), row.storage());
  base.fill_(0);
  EXPECT_NE(row.to_vector<double>()[0], 0.0);
  EXPECT_EQ(find("bn.num_batches_tracked").dtype(), DType::i64);
  EXPECT_EQ(find("bn.num_batches_tracked").item(), 7);
}

TEST(Pth, LoadWeightsDispatchesOnContentNotExtension) {
  test::TempDir dir;
  auto copy = [&](const char* fixture, const char* as) {
    test::write_bytes(dir.file(as), test::read_bytes(test::io_fixture(fixture)));
    return dir.file(as);
  };
  expect_fixture_state_dict(io::load_weights(copy("plain_zip.pth", "weights.safetensors")).tensors);
  expect_fixture_state_dict(io::load_weights(copy("plain_legacy.pth", "weights.bin")).tensors);
  io::TensorFile st = io::load_weights(copy("tiny.safetensors", "weights.pth"));
  EXPECT_EQ(st.tensors.size(), test::io_expected()["safetensors"]["tensors"].size());
  EXPECT_EQ(st.metadata.at("format"), "pt");

  auto detect = [](const char* fixture) {
    auto b = test::read_bytes(test::io_fixture(fixture));
    return io::detect_weights_format(b.data(), b.size());
  };
  EXPECT_EQ(detect("plain_zip.pth"), io::WeightsFormat::torch_zip);
  EXPECT_EQ(detect("plain_zip64.pth"), io::WeightsFormat::torch_zip);
  EXPECT_EQ(detect("plain_legacy.pth"), io::WeightsFormat::torch_legacy);
  EXPECT_EQ(detect("tiny.safetensors"), io::WeightsFormat::safetensors);

  std::vector<uint8_t> text{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  EXPECT_EQ(io::detect_weights_format(text.data(), text.size()), io::WeightsFormat::unknown);
  std::string msg = error_of([&] { io::load_weights_bytes(text.data(), text.size(), "x.pth"); });
  EXPECT_HAS(msg, "unrecognised format");
  EXPECT_HAS(load_error(text), "wrong magic");
  EXPECT_HAS(load_error({}), "wrong magic");
}

// ---- malicious pickles -------------------------------------------------------------------------------

TEST(Pth, RefusesPicklesThatNameOsSystemOrEval) {
  const std::string marker = test::io_expected()["pwned_marker"].get<std::string>();
  std::filesystem::remove(marker);
  std::string sys = error_of([] { io::load_pth_state_dict(test::io_fixture("evil_os_system.pth")); });
  EXPECT_HAS(sys, "global 'posix.system' is not allowed");
  EXPECT_HAS(sys, "evil_os_system.pth");
  std::string ev = error_of([] { io::load_weights(test::io_fixture("evil_eval_legacy.pth")); });
  EXPECT_HAS(ev, "global 'builtins.eval' is not allowed");
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a pickle was executed";
}

// ---- crafted legacy files ----------------------------------------------------------------------------

// Enough pickle opcodes to write small torch pickles by hand.
struct Pickle {
  std::string b = "\x80\x02";
  Pickle& raw(const std::string& s) { b += s; return *this; }
  Pickle& op(char c) { b += c; return *this; }
  Pickle& global(const std::string& module, const std::string& name) { return raw("c" + module + "\n" + name + "\n"); }
  Pickle& str(const std::string& s) {
    b += 'X';
    for (int i = 0; i < 4; ++i) b += static_cast<char>(s.size() >> (8 * i));
    return raw(s);
  }
  Pickle& i32(int32_t v) {
    b += 'J';
    for (int i = 0; i < 4; ++i) b += static_cast<char>(static_cast<uint32_t>(v) >> (8 * i));
    return *this;
  }
  Pickle& ints(const std::vector<int32_t>& v) {
    op('(');
    for (int32_t x : v) i32(x);
    return op('t');
  }
  Pickle& ordered_dict() { return global("collections", "OrderedDict").raw(")R"); }
  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) over a legacy pid.
  Pickle& tensor(const std::string& key, int32_t numel, int32_t offset, const std::vector<int32_t>& size,
                 const std::vector<int32_t>& stride, const std::string& type = "FloatStorage") {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", type).str(key).str("cpu").i32(numel).op('N').op('t').op('Q');
    i32(offset).ints(size).ints(stride).raw("\x89").ordered_dict();
    return op('t').op('R');
  }
  std::string done() { return b + "."; }
};

const std::string kMagic = std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);

std::vector<uint8_t> legacy_file(const std::string& object, const std::vector<std::string>& keys,
                                 const std::string& storages) {
  Pickle k;
  k.raw("]");
  if (!keys.empty()) {
    k.op('(');
    for (auto& key : keys) k.str(key);
    k.op('e');
  }
  std::string all = kMagic + "\x80\x02M\xe9\x03." + "\x80\x02}." + object + k.done() + storages;
  return {all.begin(), all.end()};
}

std::string f32_storage(const std::vector<float>& v) {
  std::string s(8, '\0');
  uint64_t n = v.size();
  std::memcpy(s.data(), &n, 8);
  s.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  return s;
}

std::vector<uint8_t> one_tensor(int32_t offset, const std::vector<int32_t>& size, const std::vector<int32_t>& stride,
                                int32_t numel = 6) {
  std::vector<float> v(static_cast<size_t>(numel));
  for (int32_t i = 0; i < numel; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  std::string obj = Pickle().ordered_dict().op('(').str("w").tensor("k", numel, offset, size, stride).op('u').done();
  return legacy_file(obj, {"k"}, f32_storage(v));
}

TEST(Pth, CraftedStridedViewIsGathered) {
  auto bytes = one_tensor(1, {2, 2}, {1, 2});  // elements 1, 3, 2, 4 of 0..5
  NamedTensors sd = io::load_pth_bytes(bytes.data(), bytes.size());
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0].second.shape(), (Shape{2, 2}));
  EXPECT_EQ(sd[0].second.to_vector<float>(), (std::vector<float>{1, 3, 2, 4}));
  auto expanded = one_tensor(2, {3}, {0});  // a broadcast view stays loadable
  EXPECT_EQ(io::load_pth_bytes(expanded.data(), expanded.size())[0].second.to_vector<float>(),
            (std::vector<float>{2, 2, 2}));
}

TEST(Pth, CraftedTensorsOutsideTheirStorageAreRefused) {
  EXPECT_HAS(load_error(one_tensor(3, {2, 2}, {2, 1})), "reach element 6 of a storage of 6");
  EXPECT_HAS(load_error(one_tensor(0, {7}, {1})), "reach element 6");
  EXPECT_HAS(load_error(one_tensor(-1, {2}, {1})), "storage_offset must be an integer >= 0");
  EXPECT_HAS(load_error(one_tensor(0, {2}, {-1})), "stride must be an integer >= 0");
  EXPECT_HAS(load_error(one_tensor(0, {2, 2}, {1})), "differ in rank");
  EXPECT_HAS(load_error(one_tensor(0, {1 << 30, 1 << 10}, {0, 0})), "would exceed");
  EXPECT_HAS(load_error(one_tensor(0, {1 << 20, 1 << 20, 1 << 10}, {0, 0, 0})), "would exceed");
  EXPECT_HAS(load_error(one_tensor(0, {1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30}, {1, 1, 1, 1, 1})), "too large");
}

TEST(Pth, CraftedStorageSectionErrors) {
  std::string obj = Pickle().ordered_dict().op('(').str("w").tensor("k", 2, 0, {2}, {1}).op('u').done();
  EXPECT_HAS(load_error(legacy_file(obj, {"k"}, f32_storage({1, 2, 3}))), "holds 3 elements, but the pickle says 2");
  EXPECT_HAS(load_error(legacy_file(obj, {"k"}, f32_storage({1, 2}).substr(0, 12))), "truncated");
  EXPECT_HAS(load_error(legacy_file(obj, {}, "")), "bytes of storage 'k' are missing");
  EXPECT_HAS(load_error(legacy_file(obj, {"k", "k"}, f32_storage({1, 2}) + f32_storage({1, 2}))), "listed twice");
  EXPECT_HAS(load_error(legacy_file(obj, {"zz"}, f32_storage({1, 2}))), "'zz' is listed but no tensor uses it");
  std::string bad_type = Pickle().ordered_dict().op('(').str("w").tensor("k", 2, 0, {2}, {1}, "CharStorage").op('u').done();
  EXPECT_HAS(load_error(legacy_file(bad_type, {"k"}, f32_storage({1, 2}))), "global 'torch.CharStorage' is not allowed");
}

TEST(Pth, CraftedObjectErrors) {
  auto err = [](const std::string& obj) { return load_error(legacy_file(obj, {}, "")); };
  EXPECT_HAS(err(Pickle().i32(1).done()), "expected a state_dict");
  EXPECT_HAS(err(Pickle().raw("}").str("a").i32(1).op('s').done()), "entry 'a' is a int, not a tensor");
  EXPECT_HAS(err(Pickle().raw("}").i32(1).raw("}").op('s').done()), "key is a int");
  EXPECT_HAS(err(Pickle().global("torch", "FloatStorage").raw(")R").done()), "'torch.FloatStorage' cannot be called");
  EXPECT_HAS(err(Pickle().global("os", "system").done()), "global 'os.system' is not allowed");
  EXPECT_HAS(err(Pickle().str("builtins").str("exec").raw("\x93").done()), "global 'builtins.exec' is not allowed");
  EXPECT_HAS(err(Pickle().global("collections", "OrderedDict").raw(")R").i32(3).op('b').done()), "BUILD state");
  EXPECT_HAS(err(Pickle().raw(std::string("]q\0h\0a", 6)).done()), "expected a state_dict");  // a list holding itself
  // A state_dict saved from DataParallel and plain at once: two keys load as one name.
  std::vector<float> v{1, 2};
  std::string both = Pickle().ordered_dict().op('(').str("module.w").tensor("k", 2, 0, {2}, {1})
                         .str("w").tensor("k", 2, 0, {2}, {1}).op('u').done();
  EXPECT_HAS(load_error(legacy_file(both, {"k"}, f32_storage(v))), "both load as 'w'");
  // A key set twice keeps its place and its last value, as Python's dict does.
  std::string twice = Pickle().ordered_dict().op('(').str("w").tensor("k", 2, 0, {1}, {1})
                          .str("w").tensor("k", 2, 1, {1}, {1}).op('u').done();
  auto tb = legacy_file(twice, {"k"}, f32_storage(v));
  NamedTensors sd = io::load_pth_bytes(tb.data(), tb.size());
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0].second.to_vector<float>(), std::vector<float>{2});
}

TEST(Pth, PickleMachineErrors) {
  auto err = [](const std::string& obj) { return load_error(legacy_file(obj, {}, "")); };
  EXPECT_HAS(err(Pickle().op('t').done()), "no MARK");
  EXPECT_HAS(err(Pickle().op('R').done()), "stack underflow");
  EXPECT_HAS(err(Pickle().op('(').op('s').done()), "stack underflow");  // below the MARK
  EXPECT_HAS(err(Pickle().raw("h\x05").done()), "memo entry 5 was never stored");
  EXPECT_HAS(err(Pickle().op('i').done()), "unsupported opcode 0x69 ('i')");
  EXPECT_HAS(err(Pickle().raw("\x80\x07").done()), "unsupported pickle protocol 7");
  EXPECT_HAS(err(Pickle().raw(std::string("X\xff\xff\xff\x7f", 5)).done()), "truncated");
  EXPECT_HAS(err(Pickle().raw(std::string("\x8b\x00\x00\x01\x00", 5)).done()), "LONG4 integer");
  EXPECT_HAS(err(Pickle().raw(std::string("\x95\xff\xff\xff\xff\x00\x00\x00\x00", 9)).done()), "frame of");
  EXPECT_HAS(err(Pickle().raw("c" + std::string(2000, 'a')).done()), "GLOBAL name longer");
  EXPECT_HAS(err(Pickle().raw(std::string(100000, '(')).done()), "stack underflow");
}

TEST(Pth, CraftedLegacyHeaderErrors) {
  std::string obj = Pickle().raw("}").done();
  auto with_header = [&](std::string header) {
    std::string all = header + obj + "\x80\x02]." ;
    return load_error({all.begin(), all.end()});
  };
  std::string version = "\x80\x02M\xe9\x03.", info = "\x80\x02}.";
  std::string wrong_magic = kMagic.substr(0, 14) + "\x85.";  // detected, but a tuple of the magic
  EXPECT_HAS(with_header(wrong_magic + version + info), "legacy magic number is wrong");
  EXPECT_HAS(with_header(kMagic + "\x80\x02M\xea\x03." + info), "protocol version is not 1001");
  EXPECT_HAS(with_header(kMagic + version + "\x80\x02]."), "sys_info is not a dict");
  std::string big_endian = "\x80\x02}X" + std::string("\x0d\x00\x00\x00", 4) + "little_endian\x89s.";
  EXPECT_HAS(with_header(kMagic + version + big_endian), "big-endian");
  std::string header_global = "\x80\x02" "cos\nsystem\n.";
  EXPECT_HAS(with_header(kMagic + version + header_global), "global 'os.system' is not allowed here");
  std::string no_stop = kMagic + version + info + "\x80\x02}";
  EXPECT_HAS(load_error({no_stop.begin(), no_stop.end()}), "truncated before STOP");
}

// ---- damaged zip archives ----------------------------------------------------------------------------

// torch writes a ZIP64 end record (found through the locator before the end record) even for
// small files; its fields are the authoritative ones.
struct ZipLayout {
  std::vector<uint8_t> bytes;
  size_t eocd = 0, eocd64 = 0, cd = 0;
};
ZipLayout plain_zip() {
  ZipLayout z{test::read_bytes(test::io_fixture("plain_zip.pth"))};
  z.eocd = z.bytes.size() - 22;  // torch writes no comment
  std::memcpy(&z.eocd64, &z.bytes[z.eocd - 20 + 8], 8);
  std::memcpy(&z.cd, &z.bytes[z.eocd64 + 48], 8);
  return z;
}
void put64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(&b[at], &v, 8); }
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); }
void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) { std::memcpy(&b[at], &v, 2); }

TEST(Pth, DamagedZipArchivesAreRefused) {
  {
    auto z = plain_zip();
    put64(z.bytes, z.eocd64 + 48, 0xffffff00);  // directory offset, with the 32-bit marker
    put32(z.bytes, z.eocd + 16, 0xffffffff);
    EXPECT_HAS(load_error(z.bytes), "central directory");
  }
  {
    auto z = plain_zip();
    put64(z.bytes, z.eocd64 + 40, 0xffffff);  // directory size
    put32(z.bytes, z.eocd + 12, 0xffffffff);
    EXPECT_HAS(load_error(z.bytes), "outside the file");
  }
  {
    auto z = plain_zip();
    put64(z.bytes, z.eocd64 + 24, 60000);  // entry counts (this disk, total)
    put64(z.bytes, z.eocd64 + 32, 60000);
    put32(z.bytes, z.eocd + 8, 0xffffffff);
    EXPECT_HAS(load_error(z.bytes), "cannot hold 60000 entries");
  }
  {
    auto z = plain_zip();
    put32(z.bytes, z.eocd + 16, static_cast<uint32_t>(z.cd + 1));
    EXPECT_HAS(load_error(z.bytes), "disagrees with the ZIP64 record");
  }
  {
    auto z = plain_zip();
    put64(z.bytes, z.eocd - 20 + 8, z.bytes.size());  // the locator points past the file
    EXPECT_HAS(load_error(z.bytes), "ZIP64 end record offset");
  }
  {
    auto z = plain_zip();
    put32(z.bytes, z.cd + 42, 0x7fffffff);  // first entry's local header offset
    EXPECT_HAS(load_error(z.bytes), "local header offset");
  }
  {
    auto z = plain_zip();
    put32(z.bytes, z.cd + 20, 0x7fffffff);  // compressed size
    EXPECT_HAS(load_error(z.bytes), "differs from its size");
  }
  {
    auto z = plain_zip();
    put32(z.bytes, z.cd + 20, 0x7fffffff);  // both sizes: the data would run past the directory
    put32(z.bytes, z.cd + 24, 0x7fffffff);
    EXPECT_HAS(load_error(z.bytes), "runs into the central directory");
  }
  {
    auto z = plain_zip();
    put16(z.bytes, z.cd + 10, 8);  // deflate
    EXPECT_HAS(load_error(z.bytes), "is compressed (method 8)");
  }
  {
    auto z = plain_zip();
    put16(z.bytes, z.cd + 8, 1);  // encrypted
    EXPECT_HAS(load_error(z.bytes), "is encrypted");
  }
  {
    auto z = plain_zip();
    z.bytes[z.eocd] = 'X';  // no end record
    EXPECT_HAS(load_error(z.bytes), "no zip end-of-central-directory record");
  }
  {
    auto z = plain_zip();
    uint16_t name_len;
    std::memcpy(&name_len, &z.bytes[z.cd + 28], 2);
    z.bytes[z.cd + 46 + name_len - 1] = 'x';  // central name "plain_zip/data.pkx": local header disagrees
    EXPECT_HAS(load_error(z.bytes), "local header names a different file");
  }
  {
    auto z = plain_zip();
    uint16_t name_len;
    std::memcpy(&name_len, &z.bytes[z.cd + 28], 2);
    z.bytes[z.cd + 46 + name_len - 1] = 'x';
    z.bytes[30 + name_len - 1] = 'x';  // both renamed: no data.pkl at all
    EXPECT_HAS(load_error(z.bytes), "no <archive>/data.pkl record");
  }
  {
    auto z = plain_zip();
    uint16_t name_len, extra_len;
    std::memcpy(&name_len, &z.bytes[26], 2);
    std::memcpy(&extra_len, &z.bytes[28], 2);
    z.bytes[30 + name_len + extra_len + 3] ^= 1;  // a byte of data.pkl
    EXPECT_HAS(load_error(z.bytes), "is corrupt (CRC-32");
  }
  EXPECT_HAS(error_of([] { io::load_pth_state_dict(test::io_fixture("byteorder_big.pth")); }),
             "byteorder is 'big'");
}

TEST(Pth, EveryTruncationThrows) {
  for (const char* name : {"plain_zip.pth", "plain_legacy.pth", "plain_zip64.pth", "plain_zip_proto4.pth"}) {
    auto bytes = test::read_bytes(test::io_fixture(name));
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_THROW(io::load_pth_bytes(bytes.data(), n), Error) << name << " cut to " << n << " bytes";
      EXPECT_THROW(io::load_weights_bytes(bytes.data(), n), Error) << name << " cut to " << n << " bytes";
    }
  }
}

TEST(Pth, MissingFileNamesThePath) {
  EXPECT_HAS(error_of([] { io::load_pth_state_dict("/nonexistent/dir/model.pth"); }), "/nonexistent/dir/model.pth");
  EXPECT_HAS(error_of([] { io::load_weights("/nonexistent/dir/model.pth"); }), "cannot open");
}

}  // namespace
}  // namespace sadanet
