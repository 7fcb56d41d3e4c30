// write_pth_state_dict: the zip container torch.save writes (stored records under one folder,
// data 64-byte aligned by an extra field as torch's writer pads them) around a protocol-2 pickle
// that uses only what torch.load(weights_only=True) allows: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, the typed storage classes as persistent ids.
#include <bit>
#include <cstring>
#include <limits>
#include <set>

#include "io/atomic_file.h"
#include "io/zip_reader.h"  // crc32
#include "sadanet/error.h"
#include "sadanet/io/pth.h"

namespace sadanet::io {
namespace {

static_assert(std::endian::native == std::endian::little, "the writer stores the host's bytes as little-endian");

constexpr const char* kArchive = "archive/";
constexpr uint64_t kAlign = 64;

const char* storage_class(DType t) {
  switch (t) {
    case DType::f32: return "FloatStorage";
    case DType::f64: return "DoubleStorage";
    case DType::f16: return "HalfStorage";
    case DType::bf16: return "BFloat16Storage";
    case DType::i64: return "LongStorage";
    case DType::i32: return "IntStorage";
    case DType::u8: return "ByteStorage";
    default: return nullptr;
  }
}

// The pickle opcodes used (Python's pickletools names).
class Pickler {
 public:
  void proto2() { op(0x80), byte(2); }
  void global(const std::string& module, const std::string& name) { op('c'), raw(module + "\n" + name + "\n"); }
  void mark() { op('('); }
  void tuple() { op('t'); }
  void empty_tuple() { op(')'); }
  void reduce() { op('R'); }
  void binpersid() { op('Q'); }
  void newfalse() { op(0x89); }
  void setitems() { op('u'); }
  void stop() { op('.'); }
  void str(const std::string& s) {
    SADANET_CHECK(s.size() <= std::numeric_limits<uint32_t>::max(), "pth: a string of ", s.size(), " bytes");
    op('X'), u32(static_cast<uint32_t>(s.size())), raw(s);
  }
  void integer(int64_t v) {
    if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
      op('J'), u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
      return;
    }
    op(0x8a), byte(8);  // LONG1: 8 bytes of two's complement, little-endian
    for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
  }
  void ints(const Shape& v) {
    mark();
    for (int64_t x : v) integer(x);
    tuple();
  }
  void empty_ordered_dict() { global("collections", "OrderedDict"), empty_tuple(), reduce(); }
  const std::string& bytes() const { return out_; }

 private:
  void op(uint8_t c) { out_.push_back(static_cast<char>(c)); }
  void byte(uint8_t c) { out_.push_back(static_cast<char>(c)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  void raw(const std::string& s) { out_ += s; }
  std::string out_;
};

void put16(std::string& s, uint16_t v) { s.push_back(static_cast<char>(v & 0xff)), s.push_back(static_cast<char>(v >> 8)); }
void put32(std::string& s, uint32_t v) { put16(s, static_cast<uint16_t>(v & 0xffff)), put16(s, static_cast<uint16_t>(v >> 16)); }

// Stored records written one after another, then the central directory (no ZIP64).
class ZipWriter {
 public:
  explicit ZipWriter(AtomicFileWriter& out) : out_(out) {}
  void add(const std::string& name, const void* data, uint64_t size) {
    SADANET_CHECK(name.size() < 0xffff, "pth: record name of ", name.size(), " bytes");
    SADANET_CHECK(entries_.size() < 0xffff, "pth: more than 65,535 records need ZIP64, which this writer lacks");
    Entry e{name, offset_, static_cast<uint32_t>(size), crc32(static_cast<const uint8_t*>(data), size)};
    const uint64_t unpadded = offset_ + 30 + name.size() + 4;
    const uint64_t pad = (kAlign - unpadded % kAlign) % kAlign;
    std::string h;
    put32(h, 0x04034b50);
    put16(h, 20), put16(h, 0), put16(h, 0);  // version needed, flags, stored
    put16(h, 0), put16(h, 0x21);            // 00:00, 1980-01-01
    put32(h, e.crc), put32(h, e.size), put32(h, e.size);
    put16(h, static_cast<uint16_t>(name.size())), put16(h, static_cast<uint16_t>(4 + pad));
    h += name;
    put16(h, 0x4246), put16(h, static_cast<uint16_t>(pad));  // "FB": padding, as torch's writer
    h.append(pad, 'Z');
    SADANET_CHECK(size <= 0xfffffffeull && offset_ + h.size() + size <= 0xfffffffeull,
                  "pth: the archive would pass 4 GiB, which needs ZIP64 (not written by sadanet)");
    write(h.data(), h.size());
    write(data, size);
    entries_.push_back(e);
  }
  void finish() {
    const uint64_t cd_start = offset_;
    std::string cd;
    for (const Entry& e : entries_) {
      put32(cd, 0x02014b50);
      put16(cd, 20), put16(cd, 20), put16(cd, 0), put16(cd, 0);  // made by, needed, flags, stored
      put16(cd, 0), put16(cd, 0x21);
      put32(cd, e.crc), put32(cd, e.size), put32(cd, e.size);
      put16(cd, static_cast<uint16_t>(e.name.size())), put16(cd, 0), put16(cd, 0);  // name, extra, comment
      put16(cd, 0), put16(cd, 0), put32(cd, 0);  // disk, internal and external attributes
      put32(cd, static_cast<uint32_t>(e.offset));
      cd += e.name;
    }
    SADANET_CHECK(cd_start + cd.size() <= 0xfffffffeull, "pth: the archive would pass 4 GiB");
    const auto cd_size = static_cast<uint32_t>(cd.size());
    put32(cd, 0x06054b50);
    put16(cd, 0), put16(cd, 0);
    put16(cd, static_cast<uint16_t>(entries_.size())), put16(cd, static_cast<uint16_t>(entries_.size()));
    put32(cd, cd_size), put32(cd, static_cast<uint32_t>(cd_start));
    put16(cd, 0);
    write(cd.data(), cd.size());
  }

 private:
  struct Entry {
    std::string name;
    uint64_t offset;
    uint32_t size, crc;
  };
  void write(const void* p, size_t n) {
    out_.write(p, n);
    offset_ += n;
  }
  AtomicFileWriter& out_;
  std::vector<Entry> entries_;
  uint64_t offset_ = 0;
};

}  // namespace

void write_pth_state_dict(const std::string& path, const NamedTensors& tensors,
                          const std::map<std::string, std::string>& extra_records) {
  std::set<std::string> names;
  std::vector<Tensor> cpu;  // contiguous CPU copies, in order
  for (const auto& [name, t] : tensors) {
    SADANET_CHECK(names.insert(name).second, "pth: ", path, ": tensor name '", name, "' twice");
    SADANET_CHECK(t.defined(), "pth: ", path, ": tensor '", name, "' is undefined");
    SADANET_CHECK(storage_class(t.dtype()), "pth: ", path, ": tensor '", name, "' has dtype ", dtype_name(t.dtype()),
                  "; expected f32, f64, f16, bf16, i64, i32 or u8");
    cpu.push_back(t.cpu().contiguous());
  }
  for (const auto& [name, bytes] : extra_records)
    SADANET_CHECK(!name.empty() && name != "data.pkl" && name != "byteorder" && name != "version" &&
                      name.rfind("data/", 0) != 0,
                  "pth: extra record '", name, "' would shadow one of torch's");

  // OrderedDict([(name, _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())), ...])
  Pickler p;
  p.proto2();
  p.empty_ordered_dict();
  p.mark();
  for (size_t i = 0; i < cpu.size(); ++i) {
    const Tensor& t = cpu[i];
    p.str(tensors[i].first);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark();
    p.mark();  // persistent id ('storage', torch.<T>Storage, key, 'cpu', numel)
    p.str("storage");
    p.global("torch", storage_class(t.dtype()));
    p.str(std::to_string(i));
    p.str("cpu");
    p.integer(t.numel());
    p.tuple();
    p.binpersid();
    p.integer(0);
    p.ints(t.shape());
    p.ints(contiguous_strides(t.shape()));
    p.newfalse();
    p.empty_ordered_dict();
    p.tuple();
    p.reduce();
  }
  p.setitems();
  p.stop();

  AtomicFileWriter out(path);
  ZipWriter zip(out);
  const std::string a = kArchive;
  zip.add(a + "data.pkl", p.bytes().data(), p.bytes().size());
  zip.add(a + "byteorder", "little", 6);
  for (size_t i = 0; i < cpu.size(); ++i) zip.add(a + "data/" + std::to_string(i), cpu[i].raw_data(), cpu[i].nbytes());
  zip.add(a + "version", "3\n", 2);
  for (const auto& [name, bytes] : extra_records) zip.add(a + name, bytes.data(), bytes.size());
  zip.finish();
  out.commit();
}

}  // namespace sadanet::io
