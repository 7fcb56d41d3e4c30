// ONNX export of a trained classifier (library sadanet_export, built where libonnx-dev and
// libprotobuf-dev are installed; the core library never links them).
//
// The graph, opset 17 (IR version 8):
//   input          float32 [N, 3, S, S]  (N dynamic; RGB, preprocessed as the metadata says)
//   logits         float32 [N, C]
//   probabilities  float32 [N, C]        Softmax of logits over the classes (axis 1)
// built from Conv, BatchNormalization (kept, not folded into the convolutions), Relu, MaxPool,
// Add, GlobalAveragePool, Flatten, Gemm and Softmax, with the model's tensors as initializers
// under their torchvision names. metadata_props: model_metadata (model_export.h): the class
// names, input size, mean, std, resize rule, layout, arch, source file, sadanet version.
// The model passes onnx::checker::check_model and strict shape inference (logits [N, C]) before
// any byte is written.
#pragma once
#include <map>
#include <string>

#include "sadanet/export.h"
#include "sadanet/export/model_export.h"
#include "sadanet/train/model_file.h"

namespace sadanet::exporter {

inline constexpr int kOnnxOpset = 17;
inline constexpr int kOnnxIrVersion = 8;

// The serialised, checked ModelProto. Throws sadanet::Error when the model cannot be exported
// (a class name that is not UTF-8, a network without a classifier) or fails the checks.
SADANET_API std::string onnx_model_bytes(const train::InferenceModel& m);

// onnx_model_bytes written atomically (temporary file, fsync, rename) to `path`.
SADANET_API void write_onnx(const train::InferenceModel& m, const std::string& path);

}  // namespace sadanet::exporter
