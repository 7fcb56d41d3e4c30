// Exporting a trained classifier for use without sadanet (library sadanet_export; the ONNX half
// is in onnx.h). Both exports describe the model with the same strings: model_metadata below is
// the ONNX file's metadata_props and the torchvision file's sadanet.json record.
#pragma once
#include <map>
#include <string>

#include "sadanet/export.h"
#include "sadanet/train/model_file.h"

namespace sadanet::exporter {

// What a user needs besides the tensors, every value a string (lists as JSON):
//   classes          JSON list of the class names, in the classifier's output order
//   num_classes      their count
//   input_name       "input" (the ONNX graph's input)
//   input_size       S: the model takes S x S images
//   mean, std        JSON lists of 3 floats (R, G, B), after scaling to [0, 1]
//   resize           how the image is brought to S x S (bilinear, half-pixel centres, no antialias)
//   layout           "NCHW float32, channels R, G, B"
//   preprocessing    the whole recipe in one sentence
//   outputs          what logits and probabilities are
//   arch             "resnet50" or "resnet-tiny"
//   source           the model file's name; source_format its kind (ModelInfo::format);
//                    source_sha256 its SHA-256 (hex)
//   sadanet_version  the exporting sadanet
// Throws sadanet::Error when a class name is not UTF-8.
SADANET_API std::map<std::string, std::string> model_metadata(const train::InferenceModel& m);

// The Python expression that builds the torchvision module the state dict fits, e.g.
// "torchvision.models.resnet50(num_classes=5)"; for other depths (resnet-tiny)
// "torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=5)".
SADANET_API std::string torchvision_constructor(const train::InferenceModel& m);

// The network's state dict under torchvision's names, as torch.save writes it (a .pth zip that
// `torch.load(path, weights_only=True)` reads; see io::write_pth_state_dict), with
// model_metadata as JSON in the extra record archive/sadanet.json (plus "torchvision": the
// constructor above). Written atomically.
SADANET_API void write_torchvision(const train::InferenceModel& m, const std::string& path);

}  // namespace sadanet::exporter
