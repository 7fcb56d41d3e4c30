// PyTorch .pth state_dicts, read without Python: the zip container torch.save writes since 1.6
// (ZIP64 included) and the legacy pre-1.6 stream. The pickle inside is read by a restricted
// unpickler that knows only OrderedDict, the tensor/parameter rebuild functions and the typed
// storage classes; any other global (os.system, builtins.eval, ...) is refused by name and nothing
// is ever executed.
#pragma once
#include <cstdint>
#include <string>

#include "sadanet/io/safetensors.h"  // NamedTensors

namespace sadanet::io {

// The state_dict's tensors in file order, as contiguous CPU tensors (storage offsets, sizes and
// strides honoured; views of one storage become independent copies). The dict may be saved bare
// or nested under a 'state_dict' or 'model' key; a leading 'module.' (DataParallel) is stripped
// from names. torch.bool tensors load as u8 0/1. Errors name the file and the problem.
NamedTensors load_pth_state_dict(const std::string& path);
NamedTensors load_pth_bytes(const uint8_t* data, size_t size, const std::string& name = "<memory>");

}  // namespace sadanet::io
