// PyTorch .pth state_dicts, read without Python: the zip container torch.save writes since 1.6
// (ZIP64 included) and the legacy pre-1.6 stream. The pickle inside is read by a restricted
// unpickler that knows only OrderedDict, the tensor/parameter rebuild functions and the typed
// storage classes; any other global (os.system, builtins.eval, ...) is refused by name and nothing
// is ever executed.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "sadanet/export.h"
#include "sadanet/io/safetensors.h"  // NamedTensors

namespace sadanet::io {

// The state_dict's tensors in file order, as contiguous CPU tensors (storage offsets, sizes and
// strides honoured; views of one storage become independent copies). The dict may be saved bare
// or nested under a 'state_dict' or 'model' key; a leading 'module.' (DataParallel) is stripped
// from names. torch.bool tensors load as u8 0/1. Errors name the file and the problem.
NamedTensors load_pth_state_dict(const std::string& path);
NamedTensors load_pth_bytes(const uint8_t* data, size_t size, const std::string& name = "<memory>");

// Writes `tensors` as torch.save(state_dict) does since PyTorch 1.6: a zip of stored records
// archive/data.pkl (an OrderedDict of name -> torch._utils._rebuild_tensor_v2, pickle protocol
// 2, nothing else), archive/data/<i> (each tensor's bytes, 64-byte aligned), archive/byteorder
// and archive/version, so that `torch.load(path, weights_only=True)` reads it. `extra_records`
// are added as archive/<name> (torch.load ignores them; e.g. a JSON description of the model).
// Tensors of any device, strides and of the dtypes f32 f64 f16 bf16 i64 i32 u8 are written as
// contiguous CPU copies. Atomic (temporary file, fsync, rename); no ZIP64, so the archive is
// refused above 4 GiB or 65,535 records. Throws sadanet::Error saying why.
SADANET_API void write_pth_state_dict(const std::string& path, const NamedTensors& tensors,
                                      const std::map<std::string, std::string>& extra_records = {});

}  // namespace sadanet::io
