// safetensors reading and writing. The header is untrusted JSON: it is parsed with a callback that
// refuses duplicate keys (nlohmann would silently keep the last) and deep nesting, then every
// entry is checked against the data section before any tensor is allocated.
#include "sadanet/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "io/byte_reader.h"
#include "io/mapped_file.h"
#include "io/shape_check.h"
#include "sadanet/autograd.h"

namespace sadanet::io {

namespace {

// std::map-based (ordered_json inserts in linear time: a huge header would take quadratic time).
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

// Parses the header, refusing duplicate keys and anything nested or listed beyond what a header
// holds; returns the document and its top-level keys in file order (nlohmann::json sorts them).
json parse_header(std::string_view text, std::vector<std::string>& key_order) {
  struct Open {
    bool array;
    size_t items = 0;
    std::set<std::string> keys;
  };
  std::vector<Open> open;
  auto check = [&](int depth, json::parse_event_t ev, json& parsed) {
    using E = json::parse_event_t;
    if ((ev == E::object_start || ev == E::array_start || ev == E::value) && !open.empty() && open.back().array)
      SADANET_CHECK(++open.back().items <= kMaxRank, "a header list holds more than ", kMaxRank, " items");
    switch (ev) {
      case E::object_start:
      case E::array_start:
        // Deepest legal value: a number in a shape list, inside a tensor entry, inside the header.
        SADANET_CHECK(depth < 3, "header nests deeper than a safetensors header can");
        open.push_back(Open{ev == E::array_start, 0, {}});
        break;
      case E::object_end:
      case E::array_end:
        open.pop_back();
        break;
      case E::key: {
        const auto& k = parsed.get_ref<const std::string&>();
        SADANET_CHECK(open.back().keys.insert(k).second, "duplicate key '", k, "' in the header");
        if (depth == 1) key_order.push_back(k);
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const json::exception& e) {
    throw Error(std::string("header is not valid JSON: ") + e.what());
  }
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

uint64_t json_u64(const json& v, const std::string& what) {
  SADANET_CHECK(v.is_number_unsigned(), what, ": expected a non-negative integer, got ", v.dump());
  return v.get<uint64_t>();
}

Entry parse_entry(const std::string& name, const json& info, uint64_t section_size) {
  const std::string what = "tensor '" + name + "'";
  SADANET_CHECK(info.is_object(), what, ": expected an object with dtype, shape and data_offsets");
  for (auto& [k, v] : info.items())
    SADANET_CHECK(k == "dtype" || k == "shape" || k == "data_offsets", what, ": unexpected field '", k, "'");
  SADANET_CHECK(info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"), what,
                ": needs dtype, shape and data_offsets");
  const json& dt = info["dtype"];
  SADANET_CHECK(dt.is_string(), what, ": dtype must be a string");
  Entry e{name, parse_dtype(dt.get<std::string>(), what), {}, 0, 0};

  const json& shape = info["shape"];
  SADANET_CHECK(shape.is_array() && shape.size() <= kMaxRank, what, ": shape must be a list of at most ",
                kMaxRank, " integers");
  for (const json& d : shape) {
    uint64_t v = json_u64(d, what + " shape");
    SADANET_CHECK(v <= static_cast<uint64_t>(INT64_MAX), what, ": dimension ", v, " is too large");
    e.shape.push_back(static_cast<int64_t>(v));
  }
  uint64_t bytes = checked_bytes(checked_numel(e.shape, what), dtype_size(e.dtype), what);

  const json& off = info["data_offsets"];
  SADANET_CHECK(off.is_array() && off.size() == 2, what, ": data_offsets must be [begin, end]");
  e.begin = json_u64(off[0], what + " data_offsets");
  e.end = json_u64(off[1], what + " data_offsets");
  SADANET_CHECK(e.begin <= e.end, what, ": data_offsets [", e.begin, ", ", e.end, "] has begin > end");
  SADANET_CHECK(e.end <= section_size, what, ": data_offsets [", e.begin, ", ", e.end,
                "] run past the data section (", section_size, " bytes)");
  SADANET_CHECK(e.end - e.begin == bytes, what, ": shape ", shape_str(e.shape), " of ", format_name(e.dtype),
                " needs ", bytes, " bytes but data_offsets span ", e.end - e.begin);
  return e;
}

std::map<std::string, std::string> parse_metadata(const json& m) {
  SADANET_CHECK(m.is_object(), "__metadata__ must be an object of strings");
  std::map<std::string, std::string> out;
  for (auto& [k, v] : m.items()) {
    SADANET_CHECK(v.is_string(), "__metadata__ value for '", k, "' must be a string, got ", v.dump());
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

TensorFile parse(const uint8_t* data, size_t size) {
  ByteReader r(data, size);
  SADANET_CHECK(size >= 8, "file is ", size, " bytes, too short for the 8-byte header length");
  uint64_t n = r.u64("header length");
  SADANET_CHECK(n <= kMaxSafetensorsHeader, "header length ", n, " exceeds the limit of ",
                kMaxSafetensorsHeader, " bytes");
  SADANET_CHECK(n <= r.remaining(), "header length ", n, " runs past the end of the file (", size, " bytes)");
  SADANET_CHECK(n >= 2 && data[8] == '{', "header does not start with '{'");
  std::vector<std::string> key_order;
  json header = parse_header(r.view(n, "header"), key_order);
  SADANET_CHECK(header.is_object(), "header must be a JSON object");

  const uint8_t* section = data + r.pos();
  const uint64_t section_size = r.remaining();
  TensorFile out;
  std::vector<Entry> entries;
  for (const std::string& name : key_order) {
    const json& info = header[name];
    if (name == "__metadata__")
      out.metadata = parse_metadata(info);
    else
      entries.push_back(parse_entry(name, info, section_size));
  }
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
  SADANET_CHECK(covered == section_size, "bytes [", covered, ", ", section_size,
                ") of the data section belong to no tensor");

  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, TensorOptions(e.dtype));
    if (e.end > e.begin) std::memcpy(t.raw_data(), section + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, std::move(t));
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
  uint64_t offset = 0;
  try {
    if (!metadata.empty()) add("__metadata__", metadata);
    for (auto& [name, t] : tensors) {
      SADANET_CHECK(name != "__metadata__", "a tensor cannot be named '__metadata__'");
      SADANET_CHECK(names.insert(name).second, "duplicate tensor name '", name, "'");
      SADANET_CHECK(t.defined(), "tensor '", name, "' is undefined");
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
