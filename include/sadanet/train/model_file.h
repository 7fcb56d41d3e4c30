// A trained classifier read from any model file sadanet can use, with what it takes to feed it:
// a run's final/last.safetensors or a training checkpoint (architecture, image size and class
// names from the file's metadata), or an imported torchvision ResNet-50 (.pth or safetensors with
// torchvision names: 224 px, ImageNet normalisation, classes named by index). predict, the C++
// facade (classifier.h), the C API and export all load models through here.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sadanet/data/image.h"
#include "sadanet/export.h"
#include "sadanet/models/resnet.h"
#include "sadanet/train/config.h"

namespace sadanet::train {

// The input a model expects: the RGB image resized (bilinear, to a square, aspect not kept: as
// `sadanet eval` and training's evaluation do) to size x size, scaled to [0, 1], then
// (x - mean) / std per channel.
struct SADANET_API Preprocess {
  int size = 224;
  std::array<float, 3> mean{data::kImageNetMean[0], data::kImageNetMean[1], data::kImageNetMean[2]};
  std::array<float, 3> std{data::kImageNetStd[0], data::kImageNetStd[1], data::kImageNetStd[2]};
};

struct SADANET_API ModelInfo {
  std::string path;
  std::string format;  // "sadanet-model", "sadanet-checkpoint" or "torchvision"
  Arch arch = Arch::resnet50;
  Preprocess preprocess;
  std::vector<std::string> classes;  // one name per output of the classifier
  TrainConfig config;                // the run's (sadanet files); defaults for torchvision files
  bool has_config = false;
};

struct SADANET_API InferenceModel {
  std::shared_ptr<models::ResNet> net;  // in eval mode, on the requested device
  ModelInfo info;
};

// Reads `path` (the content decides the format, never the extension) and builds its network on
// `device` ("cpu", "cuda", "cuda:N"). `num_classes` > 0 sizes a torchvision file's classifier
// when the file has no fc (ignored otherwise). Throws sadanet::Error naming the file and what
// was expected.
SADANET_API InferenceModel load_inference_model(const std::string& path, const std::string& device = "cpu",
                                                int64_t num_classes = 0);

// The model's input for one decoded image: [3, size, size] f32, preprocessed as above.
SADANET_API Tensor preprocess_image(const data::Image& img, const Preprocess& p);

}  // namespace sadanet::train
