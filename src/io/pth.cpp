// .pth containers: the zip archive (records <archive>/data.pkl, <archive>/data/<key>,
// <archive>/byteorder) and the legacy stream (pickles of the magic number, protocol version and
// sys_info, the object, the storage keys; then each storage as an int64 element count and raw
// bytes). Both end in the same state_dict extraction.
#include "sadanet/io/pth.h"

#include <cstring>
#include <unordered_map>

#include "io/mapped_file.h"
#include "io/pickle.h"
#include "io/shape_check.h"
#include "io/torch_objects.h"
#include "io/zip_reader.h"
#include "sadanet/io/weights.h"

namespace sadanet::io {

namespace {

using pickle::Kind;
using pickle::Ref;
using torch_objects::Storage;
using torch_objects::TorchResolver;

// torch.serialization.MAGIC_NUMBER 0x1950a86a20f9469cfc6c, little-endian as LONG1 stores it.
constexpr uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocol = 1001;

// Bytes the tensors of one file may expand to: generous for tied weights and shared storages,
// but a few-kilobyte file cannot ask for gigabytes.
uint64_t expansion_budget(size_t file_size) { return (uint64_t{64} << 20) + 16 * static_cast<uint64_t>(file_size); }

NamedTensors extract_state_dict(Ref root, uint64_t budget) {
  SADANET_CHECK(root->kind == Kind::dict, "expected a state_dict (a dict of tensors), got a ", kind_name(root->kind));
  Ref sd = root;
  for (const char* key : {"state_dict", "model"}) {
    Ref v = pickle::dict_get(*root, key);
    if (v && v->kind == Kind::dict) {
      sd = v;
      break;
    }
  }
  NamedTensors out;
  std::unordered_map<std::string, std::pair<size_t, std::string>> seen;  // name -> (index, key in the file)
  for (auto& [k, v] : sd->entries) {
    SADANET_CHECK(k->kind == Kind::string, "state_dict key is a ", kind_name(k->kind), ", not a string");
    const auto* ref = torch_objects::as_tensor(v);
    SADANET_CHECK(ref, "state_dict entry '", k->s, "' is a ", kind_name(v->kind),
                  ", not a tensor (expected a state_dict saved bare or under 'state_dict' or 'model')");
    std::string name = k->s.starts_with("module.") ? k->s.substr(7) : k->s;  // saved from DataParallel
    Tensor t = torch_objects::materialize(*ref, "tensor '" + k->s + "'", budget);
    auto [it, fresh] = seen.try_emplace(name, out.size(), k->s);
    if (fresh) {
      out.emplace_back(std::move(name), std::move(t));
    } else {  // a key set twice keeps its first place and its last value, as in Python
      SADANET_CHECK(it->second.second == k->s, "'", it->second.second, "' and '", k->s, "' both load as '", name, "'");
      out[it->second.first].second = std::move(t);
    }
  }
  return out;
}

NamedTensors load_zip(const uint8_t* data, size_t size) {
  ZipReader zip(data, size);
  // torch writes every record under one top-level folder (the file's stem, or "archive").
  const ZipEntry* pkl = nullptr;
  std::string prefix;
  for (const ZipEntry& e : zip.entries()) {
    auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      SADANET_CHECK(!pkl, "two data.pkl records ('", pkl ? pkl->name : "", "' and '", e.name, "')");
      pkl = &e;
      prefix = e.name.substr(0, slash + 1);
    }
  }
  SADANET_CHECK(pkl, "no <archive>/data.pkl record: a zip file, but not one torch.save wrote");
  if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
    std::string_view v = zip.read(*order);
    SADANET_CHECK(v == "little", "byteorder is '", v, "'; only little-endian files are supported");
  }
  TorchResolver resolver([&](const Storage& s) -> const uint8_t* {
    const ZipEntry* rec = zip.find(prefix + "data/" + s.key);
    SADANET_CHECK(rec, "storage record '", prefix, "data/", s.key, "' is missing");
    uint64_t need = checked_bytes(s.numel, dtype_size(s.dtype), "storage '" + s.key + "'");
    SADANET_CHECK(rec->size == need, "storage record '", rec->name, "' holds ", rec->size, " bytes, but ", s.numel,
                  " elements of ", dtype_name(s.dtype), " need ", need);
    return reinterpret_cast<const uint8_t*>(zip.read(*rec).data());
  });
  std::string_view pk = zip.read(*pkl);
  pickle::Unpickler u(reinterpret_cast<const uint8_t*>(pk.data()), pk.size(), 0, resolver);
  return extract_state_dict(u.load(), expansion_budget(size));
}

// One of the small plain-data pickles of the legacy header; returns it and advances pos.
Ref plain_pickle(pickle::Unpickler& u, size_t& pos) {
  Ref r = u.load();
  pos = u.end();
  return r;
}

NamedTensors load_legacy(const uint8_t* data, size_t size) {
  pickle::PlainDataResolver plain;
  size_t pos = 0;
  pickle::Unpickler magic_u(data, size, pos, plain);
  Ref magic = plain_pickle(magic_u, pos);
  SADANET_CHECK(magic->kind == Kind::big_integer && magic->s.size() == sizeof kLegacyMagic &&
                    std::memcmp(magic->s.data(), kLegacyMagic, sizeof kLegacyMagic) == 0,
                "legacy magic number is wrong");
  pickle::Unpickler version_u(data, size, pos, plain);
  Ref version = plain_pickle(version_u, pos);
  SADANET_CHECK(version->kind == Kind::integer && version->i == kLegacyProtocol, "legacy protocol version is not ",
                kLegacyProtocol);
  pickle::Unpickler info_u(data, size, pos, plain);
  Ref info = plain_pickle(info_u, pos);
  SADANET_CHECK(info->kind == Kind::dict, "legacy sys_info is not a dict");
  if (Ref le = pickle::dict_get(*info, "little_endian"))
    SADANET_CHECK(le->kind == Kind::boolean && le->b, "the file was written big-endian; only little-endian is supported");

  TorchResolver resolver([](const Storage&) { return nullptr; });  // the bytes follow the pickles
  pickle::Unpickler main_u(data, size, pos, resolver);
  Ref root = plain_pickle(main_u, pos);
  pickle::Unpickler keys_u(data, size, pos, plain);
  Ref keys = plain_pickle(keys_u, pos);
  SADANET_CHECK(keys->kind == Kind::list, "legacy storage key list is not a list");

  ByteReader in(data, size, pos);
  for (Ref k : keys->items) {
    SADANET_CHECK(k->kind == Kind::string, "legacy storage key is a ", kind_name(k->kind), ", not a string");
    auto it = resolver.storages().find(k->s);
    SADANET_CHECK(it != resolver.storages().end(), "storage '", k->s, "' is listed but no tensor uses it");
    Storage& s = it->second;
    SADANET_CHECK(!s.data, "storage '", k->s, "' is listed twice");
    uint64_t count = in.u64("storage element count");
    SADANET_CHECK(count == static_cast<uint64_t>(s.numel), "storage '", k->s, "' holds ", count,
                  " elements, but the pickle says ", s.numel);
    s.data = in.take(checked_bytes(s.numel, dtype_size(s.dtype), "storage '" + s.key + "'"), "storage bytes");
  }
  return extract_state_dict(root, expansion_budget(size));
}

}  // namespace

NamedTensors load_pth_bytes(const uint8_t* data, size_t size, const std::string& name) {
  try {
    switch (detect_weights_format(data, size)) {
      case WeightsFormat::torch_zip: return load_zip(data, size);
      case WeightsFormat::torch_legacy: return load_legacy(data, size);
      default: throw Error("neither a torch zip archive nor a legacy torch.save file (wrong magic)");
    }
  } catch (const Error& e) {
    throw Error("pth '" + name + "': " + e.what());
  }
}

NamedTensors load_pth_state_dict(const std::string& path) {
  MappedFile file(path);
  return load_pth_bytes(file.data(), file.size(), path);
}

}  // namespace sadanet::io
