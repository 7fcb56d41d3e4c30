#include "io/torch_objects.h"

#include <cstring>

#include "io/shape_check.h"

namespace sadanet::io::torch_objects {

using pickle::Kind;
using pickle::Ref;

namespace {

constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kRebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";

// torch.BoolStorage holds one byte per element: sadanet has no bool dtype and reads it as u8 0/1.
constexpr std::pair<const char*, DType> kStorageTypes[] = {
    {"torch.FloatStorage", DType::f32}, {"torch.DoubleStorage", DType::f64},
    {"torch.HalfStorage", DType::f16},  {"torch.BFloat16Storage", DType::bf16},
    {"torch.LongStorage", DType::i64},  {"torch.IntStorage", DType::i32},
    {"torch.ByteStorage", DType::u8},   {"torch.BoolStorage", DType::u8}};

const DType* storage_dtype(const std::string& global) {
  for (auto& [name, dt] : kStorageTypes)
    if (global == name) return &dt;
  return nullptr;
}

Ref expect(Ref r, Kind k, const char* what) {
  SADANET_CHECK(r->kind == k, what, " must be a ", kind_name(k), ", got a ", kind_name(r->kind));
  return r;
}

int64_t expect_int(Ref r, const char* what, int64_t min = 0) {
  SADANET_CHECK(r->kind == Kind::integer && r->i >= min, what, " must be an integer >= ", min,
                r->kind == Kind::integer ? detail::concat(", got ", r->i) : detail::concat(", got a ", kind_name(r->kind)));
  return r->i;
}

Shape int_tuple(Ref r, const char* what) {
  expect(r, Kind::tuple, what);
  SADANET_CHECK(r->items.size() <= kMaxRank, what, " has more than ", kMaxRank, " dimensions");
  Shape out;
  for (Ref d : r->items) out.push_back(expect_int(d, what));
  return out;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
Ref rebuild_tensor(pickle::Unpickler& u, Ref args) {
  const auto& a = args->items;
  SADANET_CHECK(a.size() == 6 || a.size() == 7, "_rebuild_tensor_v2 takes 6 or 7 arguments, got ", a.size());
  const auto* storage =
      a[0]->kind == Kind::custom && a[0]->s == "storage" ? std::any_cast<TensorRef>(&a[0]->payload) : nullptr;
  SADANET_CHECK(storage, "_rebuild_tensor_v2's first argument must be a storage, got a ", kind_name(a[0]->kind));
  TensorRef t = *storage;
  t.offset = expect_int(a[1], "storage_offset");
  t.size = int_tuple(a[2], "size");
  t.stride = int_tuple(a[3], "stride");
  SADANET_CHECK(t.size.size() == t.stride.size(), "size ", shape_str(t.size), " and stride ", shape_str(t.stride),
                " differ in rank");
  expect(a[4], Kind::boolean, "requires_grad");
  Ref out = u.make(Kind::custom);
  out->s = "tensor";
  out->payload = std::move(t);
  return out;
}

// _rebuild_parameter(data, requires_grad, backward_hooks[, state]): the tensor itself.
Ref rebuild_parameter(Ref args, size_t nargs) {
  SADANET_CHECK(args->items.size() == nargs, "parameter rebuild takes ", nargs, " arguments, got ", args->items.size());
  SADANET_CHECK(as_tensor(args->items[0]), "a parameter must wrap a tensor, got a ", kind_name(args->items[0]->kind));
  expect(args->items[1], Kind::boolean, "requires_grad");
  return args->items[0];
}

}  // namespace

const TensorRef* as_tensor(Ref r) {
  return r->kind == Kind::custom && r->s == "tensor" ? std::any_cast<TensorRef>(&r->payload) : nullptr;
}

Ref TorchResolver::find_class(pickle::Unpickler& u, const std::string& module, const std::string& name) {
  std::string full = module + "." + name;
  bool allowed = full == kOrderedDict || full == kRebuildTensor || full == kRebuildParameter ||
                 full == kRebuildParameterWithState || storage_dtype(full);
  SADANET_CHECK(allowed, "global '", full, "' is not allowed: weights may only reference ", kOrderedDict, ", ",
                kRebuildTensor, ", ", kRebuildParameter, "[_with_state] and torch's typed storage classes "
                "(nothing in the file is ever executed)");
  Ref g = u.make(Kind::global);
  g->s = std::move(full);
  return g;
}

Ref TorchResolver::call(pickle::Unpickler& u, Ref callable, Ref args) {
  SADANET_CHECK(callable->kind == Kind::global, "cannot call a ", kind_name(callable->kind));
  const std::string& f = callable->s;
  if (f == kOrderedDict) {
    SADANET_CHECK(args->items.empty(), "OrderedDict with arguments is not supported");
    return u.make(Kind::dict);
  }
  if (f == kRebuildTensor) return rebuild_tensor(u, args);
  if (f == kRebuildParameter) return rebuild_parameter(args, 3);
  if (f == kRebuildParameterWithState) return rebuild_parameter(args, 4);
  throw Error("'" + f + "' cannot be called");
}

// BUILD sets instance attributes; the only ones torch writes for a state_dict are an
// OrderedDict's (its _metadata of module versions), which loading weights does not need.
void TorchResolver::build(pickle::Unpickler&, Ref obj, Ref state) {
  SADANET_CHECK(obj->kind == Kind::dict, "BUILD on a ", kind_name(obj->kind), " is not supported");
  SADANET_CHECK(state->kind == Kind::dict || state->kind == Kind::none || state->kind == Kind::tuple,
                "BUILD state must be a dict, got a ", kind_name(state->kind));
}

// ('storage', storage_type, key, location, numel) in zip files; legacy files add view_metadata:
// None or (view_key, offset, size), a window of the root storage.
Ref TorchResolver::persistent_load(pickle::Unpickler& u, Ref pid) {
  expect(pid, Kind::tuple, "persistent id");
  const auto& p = pid->items;
  SADANET_CHECK(p.size() == 5 || p.size() == 6, "persistent id must have 5 or 6 fields, got ", p.size());
  SADANET_CHECK(p[0]->kind == Kind::string && p[0]->s == "storage", "persistent id is not a storage");
  const DType* dt = p[1]->kind == Kind::global ? storage_dtype(p[1]->s) : nullptr;
  SADANET_CHECK(dt, "persistent id names no storage type");
  const std::string& key = expect(p[2], Kind::string, "storage key")->s;
  expect(p[3], Kind::string, "storage location");
  int64_t numel = expect_int(p[4], "storage size");
  checked_bytes(numel, dtype_size(*dt), "storage '" + key + "'");

  auto [it, fresh] = storages_.try_emplace(key, Storage{key, *dt, numel, nullptr});
  Storage& s = it->second;
  SADANET_CHECK(s.dtype == *dt && s.numel == numel, "storage '", key, "' is named with two different types or sizes");
  if (fresh) s.data = locate_(s);

  TensorRef view{&s, 0, numel, 0, {}, {}};
  if (p.size() == 6 && p[5]->kind != Kind::none) {
    Ref v = expect(p[5], Kind::tuple, "view_metadata");
    SADANET_CHECK(v->items.size() == 3, "view_metadata must be (key, offset, size)");
    view.window_offset = expect_int(v->items[1], "view offset");
    view.window_numel = expect_int(v->items[2], "view size");
    SADANET_CHECK(range_fits(static_cast<uint64_t>(view.window_offset), static_cast<uint64_t>(view.window_numel),
                             static_cast<uint64_t>(numel)),
                  "view [", view.window_offset, ", +", view.window_numel, ") is outside storage '", key, "' of ",
                  numel, " elements");
  }
  Ref out = u.make(Kind::custom);
  out->s = "storage";
  out->payload = view;
  return out;
}

Tensor materialize(const TensorRef& t, const std::string& what, uint64_t& budget) {
  const Storage& s = *t.storage;
  SADANET_CHECK(s.data, what, ": the bytes of storage '", s.key, "' are missing from the file");
  const size_t es = dtype_size(s.dtype);
  const int64_t numel = checked_numel(t.size, what);
  const uint64_t bytes = checked_bytes(numel, es, what);
  SADANET_CHECK(bytes <= budget, what, ": materialising ", bytes, " bytes would exceed what this file may expand to");
  budget -= bytes;
  Tensor out = empty(t.size, TensorOptions(s.dtype));
  if (numel == 0) return out;

  // Largest element index the view reaches, which must stay inside the storage window.
  int64_t last = t.offset;
  bool contiguous = true;
  int64_t expected = 1;
  for (size_t d = t.size.size(); d-- > 0;) {
    int64_t reach = 0;
    SADANET_CHECK(!__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &reach) &&
                      !__builtin_add_overflow(last, reach, &last),
                  what, ": size ", shape_str(t.size), " and stride ", shape_str(t.stride), " overflow");
    if (t.size[d] != 1) {
      contiguous = contiguous && t.stride[d] == expected;
      expected *= t.size[d];
    }
  }
  SADANET_CHECK(last < t.window_numel, what, ": storage offset ", t.offset, ", size ", shape_str(t.size),
                " and stride ", shape_str(t.stride), " reach element ", last, " of a storage of ", t.window_numel);

  const uint8_t* base = s.data + static_cast<size_t>(t.window_offset + t.offset) * es;
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  if (contiguous) {
    std::memcpy(dst, base, bytes);
    return out;
  }
  // Odometer over the index space; src tracks the element offset of the current index.
  const size_t nd = t.size.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t src = 0;
  for (int64_t n = 0; n < numel; ++n) {
    std::memcpy(dst + static_cast<size_t>(n) * es, base + static_cast<size_t>(src) * es, es);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < t.size[d]) {
        src += t.stride[d];
        break;
      }
      src -= t.stride[d] * (t.size[d] - 1);
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace sadanet::io::torch_objects
