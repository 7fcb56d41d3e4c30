// Loading weights whatever their format: the content decides (safetensors header, torch zip
// magic "PK\x03\x04", legacy torch pickle magic), never the file extension.
#pragma once
#include <cstdint>
#include <string>

#include "sadanet/io/safetensors.h"

namespace sadanet::io {

enum class WeightsFormat { safetensors, torch_zip, torch_legacy, unknown };
const char* weights_format_name(WeightsFormat f);
WeightsFormat detect_weights_format(const uint8_t* data, size_t size);

// .pth files give an empty metadata map.
TensorFile load_weights(const std::string& path);
TensorFile load_weights_bytes(const uint8_t* data, size_t size, const std::string& name = "<memory>");

}  // namespace sadanet::io
