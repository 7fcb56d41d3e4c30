// safetensors reading and writing. The header is untrusted JSON: one SAX pass (HeaderSax) refuses
// duplicate keys, deep nesting and anything a header cannot hold, then every entry is checked
// against the data section, and the checksum sadanet's writer stores is verified, before any
// tensor is allocated.
#include "sadanet/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "io/content_hash.h"
#include "io/byte_reader.h"
#include "io/mapped_file.h"
#include "io/shape_check.h"
#include "sadanet/autograd.h"

namespace sadanet::io {

namespace {

using json = nlohmann::json;
static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

constexpr std::pair<const char*, DType> kDTypes[] = {
    {"F32", DType::f32}, {"F64", DType::f64}, {"F16", DType::f16}, {"BF16", DType::bf16},
    {"I64", DType::i64}, {"I32", DType::i32}, {"U8", DType::u8}};

const char* format_name(DType t) {
  for (auto& [name, dt] : kDTypes)
    if (dt == t) return name;
  throw Error(detail::concat("safetensors: no format name for dtype ", dtype_name(t)));
}

DType parse_dtype(const std::string& s, const std::string& what) {
  for (auto& [name, dt] : kDTypes)
    if (s == name) return dt;
  throw Error(what + ": unsupported dtype '" + s + "' (sadanet reads F32, F64, F16, BF16, I64, I32, U8)");
}

struct Entry {
  std::string name;
  DType dtype = DType::u8;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// The header in one SAX pass, in time linear in its size. nlohmann's DOM callback parser is not:
// after every object it closes, it scans the enclosing object for discarded values, so a header of
// n tensor entries cost O(n^2) (a 2.9 MB header took 432 s). This handler accepts only the shape a
// header can have,
//   {"__metadata__": {str: str, ...}, name: {"dtype": str, "shape": [uint...], "data_offsets": [uint, uint]}, ...}
// refusing duplicate keys (a DOM would silently keep the last), deeper nesting and long lists as
// they come, and checks each tensor entry against the data section when its object closes.
class HeaderSax {
 public:
  explicit HeaderSax(uint64_t section_size) : section_size_(section_size) {}

  std::vector<Entry> entries;  // in header order
  std::map<std::string, std::string> metadata;

  bool null() { return scalar("null"); }
  bool boolean(bool v) { return scalar(v ? "true" : "false"); }
  bool number_integer(int64_t v) { return scalar(std::to_string(v)); }  // the lexer sends only negatives here
  bool number_unsigned(uint64_t v) {
    if (at_ == At::shape || at_ == At::offsets) return list_item(v);
    return scalar(std::to_string(v));
  }
  bool number_float(double, const std::string& text) { return scalar(text); }
  bool binary(json::binary_t&) { return scalar("binary data"); }
  bool string(std::string& s) {
    if (at_ == At::metadata) {
      metadata.emplace(std::move(key_), std::move(s));
      return true;
    }
    if (at_ == At::entry && field_ == kDtype) {
      entries.back().dtype = parse_dtype(s, what());
      return true;
    }
    return scalar(json(s).dump());
  }

  bool start_object(size_t) {
    if (at_ == At::start) {
      at_ = At::top;
    } else if (at_ == At::top && in_metadata_) {
      at_ = At::metadata;
    } else if (at_ == At::top) {
      at_ = At::entry;
      fields_ = 0;
    } else {
      container("an object");
    }
    return true;
  }
  bool start_array(size_t) {
    if (at_ == At::entry && field_ == kShape) {
      at_ = At::shape;
    } else if (at_ == At::entry && field_ == kOffsets) {
      at_ = At::offsets;
      offsets_ = 0;
    } else {
      container("a list");
    }
    return true;
  }
  bool key(std::string& k) {
    if (at_ == At::top) {
      in_metadata_ = k == "__metadata__";
      if (in_metadata_) {
        SADANET_CHECK(!seen_metadata_, "duplicate key '__metadata__' in the header");
        seen_metadata_ = true;
      } else {
        entries.emplace_back();
        entries.back().name = std::move(k);
      }
    } else if (at_ == At::metadata) {
      SADANET_CHECK(!metadata.count(k), "duplicate key '", k, "' in the header");
      key_ = std::move(k);
    } else {  // At::entry
      const int f = k == "dtype" ? kDtype : k == "shape" ? kShape : k == "data_offsets" ? kOffsets : -1;
      SADANET_CHECK(f >= 0, what(), ": unexpected field '", k, "'");
      SADANET_CHECK(!(fields_ & (1 << f)), "duplicate key '", k, "' in the header");
      fields_ |= 1 << f;
      field_ = f;
    }
    return true;
  }
  bool end_object() {
    if (at_ == At::entry) finish_entry();
    at_ = at_ == At::top ? At::done : At::top;
    return true;
  }
  bool end_array() {
    SADANET_CHECK(at_ != At::offsets || offsets_ == 2, what(), ": data_offsets must be [begin, end]");
    at_ = At::entry;
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& e) {
    throw Error(std::string("header is not valid JSON: ") + e.what());
  }

 private:
  enum class At { start, top, metadata, entry, shape, offsets, done };
  static constexpr int kDtype = 0, kShape = 1, kOffsets = 2;

  std::string what() const { return "tensor '" + entries.back().name + "'"; }

  // A value of the wrong kind where the header wants something else: say what was wanted.
  [[noreturn]] void wrong(const std::string& got) const {
    switch (at_) {
      case At::top:
        SADANET_CHECK(!in_metadata_, "__metadata__ must be an object of strings, got ", got);
        throw Error(what() + ": expected an object with dtype, shape and data_offsets, got " + got);
      case At::metadata: throw Error("__metadata__ value for '" + key_ + "' must be a string, got " + got);
      case At::entry:
        if (field_ == kDtype) throw Error(what() + ": dtype must be a string, got " + got);
        if (field_ == kShape)
          throw Error(detail::concat(what(), ": shape must be a list of at most ", kMaxRank, " integers, got ", got));
        throw Error(what() + ": data_offsets must be [begin, end], got " + got);
      case At::shape:
      case At::offsets: throw Error(what() + (at_ == At::shape ? " shape" : " data_offsets") +
                                    ": expected a non-negative integer, got " + got);
      default: throw Error("header must be a JSON object");
    }
  }
  bool scalar(const std::string& text) { wrong(text); }
  void container(const char* kind) {
    // Deepest legal value: a number in a shape list, inside a tensor entry, inside the header.
    SADANET_CHECK(at_ != At::shape && at_ != At::offsets, "header nests deeper than a safetensors header can");
    wrong(kind);
  }
  bool list_item(uint64_t v) {
    Entry& e = entries.back();
    if (at_ == At::offsets) {
      SADANET_CHECK(++offsets_ <= 2, what(), ": data_offsets must be [begin, end]");
      (offsets_ == 1 ? e.begin : e.end) = v;
      return true;
    }
    SADANET_CHECK(e.shape.size() < kMaxRank, what(), ": shape holds more than ", kMaxRank, " items");
    SADANET_CHECK(v <= static_cast<uint64_t>(INT64_MAX), what(), ": dimension ", v, " is too large");
    e.shape.push_back(static_cast<int64_t>(v));
    return true;
  }
  void finish_entry() {
    const Entry& e = entries.back();
    const std::string w = what();
    SADANET_CHECK(fields_ == 7, w, ": needs dtype, shape and data_offsets");
    uint64_t bytes = checked_bytes(checked_numel(e.shape, w), dtype_size(e.dtype), w);
    SADANET_CHECK(e.begin <= e.end, w, ": data_offsets [", e.begin, ", ", e.end, "] has begin > end");
    SADANET_CHECK(e.end <= section_size_, w, ": data_offsets [", e.begin, ", ", e.end,
                  "] run past the data section (", section_size_, " bytes)");
    SADANET_CHECK(e.end - e.begin == bytes, w, ": shape ", shape_str(e.shape), " of ", format_name(e.dtype),
                  " needs ", bytes, " bytes but data_offsets span ", e.end - e.begin);
  }

  const uint64_t section_size_;
  At at_ = At::start;
  bool in_metadata_ = false, seen_metadata_ = false;
  std::string key_;  // the metadata key whose value comes next
  int field_ = -1, fields_ = 0, offsets_ = 0;
};

// Duplicate tensor names, found by sorting (O(n log n) whatever the names; a hash set could be
// flooded with colliding names).
void check_unique_names(const std::vector<Entry>& entries) {
  std::vector<const std::string*> names;
  names.reserve(entries.size());
  for (const Entry& e : entries) names.push_back(&e.name);
  std::sort(names.begin(), names.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  for (size_t i = 1; i < names.size(); ++i)
    SADANET_CHECK(*names[i] != *names[i - 1], "duplicate key '", *names[i], "' in the header");
}

TensorFile parse(const uint8_t* data, size_t size) {
  ByteReader r(data, size);
  SADANET_CHECK(size >= 8, "file is ", size, " bytes, too short for the 8-byte header length");
  uint64_t n = r.u64("header length");
  SADANET_CHECK(n <= kMaxSafetensorsHeader, "header length ", n, " exceeds the limit of ",
                kMaxSafetensorsHeader, " bytes");
  SADANET_CHECK(n <= r.remaining(), "header length ", n, " runs past the end of the file (", size, " bytes)");
  SADANET_CHECK(n >= 2 && data[8] == '{', "header does not start with '{'");
  const std::string_view text = r.view(n, "header");
  const uint8_t* section = data + r.pos();
  HeaderSax sax(r.remaining());
  try {
    json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const json::exception& e) {
    throw Error(std::string("header is not valid JSON: ") + e.what());
  }
  std::vector<Entry>& entries = sax.entries;
  check_unique_names(entries);

  // The tensors must tile the data section exactly: no overlaps (two names for one byte) and no
  // holes (unindexed bytes, which is how polyglot files hide a second payload).
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    SADANET_CHECK(e.begin >= covered, "tensors '", entries[i - 1].name, "' and '", e.name,
                  "' overlap in the data section");
    SADANET_CHECK(e.begin == covered, "bytes [", covered, ", ", e.begin, ") of the data section belong to no tensor");
    covered = e.end;
  }
  SADANET_CHECK(covered == r.remaining(), "bytes [", covered, ", ", r.remaining(),
                ") of the data section belong to no tensor");

  TensorFile out;
  out.metadata = std::move(sax.metadata);
  auto stored = out.metadata.find(kChecksumKey);
  if (stored != out.metadata.end()) {
    ContentHash hash(out.metadata);
    for (const Entry& e : entries)
      hash.tensor(e.name, format_name(e.dtype), e.shape, section + e.begin, e.end - e.begin);
    const std::string got = hash.hex();
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION  // lets mutations past the checksum, as for zip CRCs
    SADANET_CHECK(got == stored->second, "checksum mismatch: the file is corrupt (", kChecksumKey, " in the metadata is '",
                  stored->second, "', the content hashes to '", got, "')");
#endif
    out.verified = got == stored->second;
    out.metadata.erase(stored);
  }
  out.tensors.reserve(entries.size());
  for (Entry& e : entries) {
    Tensor t = empty(e.shape, TensorOptions(e.dtype));
    if (e.end > e.begin) std::memcpy(t.raw_data(), section + e.begin, e.end - e.begin);
    out.tensors.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

// Streams the file's bytes to `sink`, converting one tensor at a time to CPU contiguous.
template <class Sink>
void serialize(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata, Sink&& sink) {
  NoGradGuard no_grad;
  // Written by hand rather than as one json object, so the header keeps the caller's order.
  std::string text = "{";
  auto add = [&](const std::string& key, const json& value) {
    if (text.size() > 1) text += ',';
    text += json(key).dump() + ":" + value.dump();
  };
  std::set<std::string> names;
  for (auto& [name, t] : tensors) {
    SADANET_CHECK(name != "__metadata__", "a tensor cannot be named '__metadata__'");
    SADANET_CHECK(names.insert(name).second, "duplicate tensor name '", name, "'");
    SADANET_CHECK(t.defined(), "tensor '", name, "' is undefined");
  }
  SADANET_CHECK(!metadata.count(kChecksumKey), "metadata key '", kChecksumKey,
                "' is the writer's own (the checksum of the content)");
  // The checksum goes in the header, before the bytes it covers: a first pass over the tensors
  // hashes them (one at a time, so a device tensor is copied to the host twice, never held whole).
  std::map<std::string, std::string> meta = metadata;
  {
    ContentHash hash(metadata);
    for (auto& [name, t] : tensors) {
      Tensor c = t.detach().cpu().contiguous();
      hash.tensor(name, format_name(c.dtype()), c.shape(), c.raw_data(), c.nbytes());
    }
    meta.emplace(kChecksumKey, hash.hex());
  }
  uint64_t offset = 0;
  try {
    add("__metadata__", meta);
    for (auto& [name, t] : tensors) {
      add(name, {{"dtype", format_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}});
      offset += t.nbytes();
    }
  } catch (const json::exception& e) {
    throw Error(std::string("a tensor name or metadata string is not valid UTF-8: ") + e.what());
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  sink(len, 8);
  sink(text.data(), text.size());
  for (auto& [name, t] : tensors) {
    Tensor c = t.detach().cpu().contiguous();
    if (c.nbytes() > 0) sink(c.raw_data(), c.nbytes());
  }
}

template <class T> int64_t first_nonfinite(const Tensor& t) {
  const T* p = static_cast<const T*>(t.raw_data());
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    if (!std::isfinite(static_cast<float>(p[i]))) return i;
  return -1;
}
template <> int64_t first_nonfinite<double>(const Tensor& t) {
  const double* p = static_cast<const double*>(t.raw_data());
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    if (!std::isfinite(p[i])) return i;
  return -1;
}

}  // namespace

TensorFile read_safetensors_bytes(const uint8_t* data, size_t size, const std::string& name) {
  try {
    return parse(data, size);
  } catch (const Error& e) {
    throw Error("safetensors '" + name + "': " + e.what());
  }
}

TensorFile read_safetensors(const std::string& path) {
  MappedFile file(path);
  return read_safetensors_bytes(file.data(), file.size(), path);
}

std::vector<uint8_t> safetensors_bytes(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  std::vector<uint8_t> out;
  try {
    serialize(tensors, metadata, [&](const void* p, size_t n) {
      out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    });
  } catch (const Error& e) {
    throw Error(std::string("safetensors: ") + e.what());
  }
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  try {
    AtomicFileWriter file(path);
    serialize(tensors, metadata, [&](const void* p, size_t n) { file.write(p, n); });
    file.commit();
  } catch (const Error& e) {
    throw Error("safetensors write '" + path + "': " + e.what());
  }
}

void check_finite(const TensorFile& file, const std::string& path) {
  for (auto& [name, t] : file.tensors) {
    if (!is_floating(t.dtype())) continue;
    Tensor c = t.cpu().contiguous();
    int64_t bad = -1;
    switch (c.dtype()) {
      case DType::f32: bad = first_nonfinite<float>(c); break;
      case DType::f64: bad = first_nonfinite<double>(c); break;
      case DType::f16: bad = first_nonfinite<f16>(c); break;
      case DType::bf16: bad = first_nonfinite<bf16>(c); break;
      default: break;
    }
    SADANET_CHECK(bad < 0, "'", path, "': tensor '", name, "' holds a non-finite value (NaN or Inf) at element ",
                  bad, "; allow non-finite weights explicitly to load it anyway");
  }
}

}  // namespace sadanet::io
