// The torch side of unpickling a .pth file: the allowlisted globals (OrderedDict, the tensor and
// parameter rebuild functions, the typed storage classes), storages named by persistent ids, and
// turning the resulting tensor descriptions into contiguous sadanet tensors.
#pragma once
#include <functional>
#include <map>
#include <string>

#include "io/pickle.h"
#include "sadanet/tensor.h"

namespace sadanet::io::torch_objects {

// One torch storage, by key. Its bytes are found at once in a zip archive, but only after the
// whole pickle in a legacy file (data stays null until then).
struct Storage {
  std::string key;
  DType dtype = DType::f32;
  int64_t numel = 0;  // elements
  const uint8_t* data = nullptr;
};

// What _rebuild_tensor_v2 describes: a strided view of (a window of) a storage.
struct TensorRef {
  const Storage* storage = nullptr;
  int64_t window_offset = 0, window_numel = 0;  // legacy view_metadata; else the whole storage
  int64_t offset = 0;                           // storage_offset, within the window
  Shape size, stride;
};

class TorchResolver : public pickle::Resolver {
 public:
  // Called once per new storage key; returns its bytes, or nullptr if they come later.
  using Locate = std::function<const uint8_t*(const Storage&)>;
  explicit TorchResolver(Locate locate) : locate_(std::move(locate)) {}

  pickle::Ref find_class(pickle::Unpickler& u, const std::string& module, const std::string& name) override;
  pickle::Ref call(pickle::Unpickler& u, pickle::Ref callable, pickle::Ref args) override;
  void build(pickle::Unpickler& u, pickle::Ref obj, pickle::Ref state) override;
  pickle::Ref persistent_load(pickle::Unpickler& u, pickle::Ref pid) override;

  std::map<std::string, Storage>& storages() { return storages_; }

 private:
  Locate locate_;
  std::map<std::string, Storage> storages_;  // node-based: TensorRefs keep pointers into it
};

const TensorRef* as_tensor(pickle::Ref r);  // nullptr unless r came from a tensor rebuild

// A contiguous copy of the described tensor. `budget` is the number of bytes still allowed to be
// materialised from this file: it stops a small file from expanding (stride-0 views, or one
// storage named many times) into gigabytes.
Tensor materialize(const TensorRef& t, const std::string& what, uint64_t& budget);

}  // namespace sadanet::io::torch_objects
