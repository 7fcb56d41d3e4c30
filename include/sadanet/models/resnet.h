// ResNet-50 v1.5 exactly as torchvision builds it (stride on the 3x3 convolution; 1x1 conv + BN
// downsample), with torchvision's parameter names and initialisation, plus SADA's heads.
#pragma once
#include <memory>
#include <vector>

#include "sadanet/nn/layers.h"

namespace sadanet::models {

class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, Generator* gen);
  Tensor forward(const Tensor& x);
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Module> downsample;  // "downsample.0" conv, "downsample.1" bn; null if identity
};

struct ResNetOutput {
  Tensor logits;       // [N, num_classes] (undefined when the model has no classifier)
  Tensor pooled;       // [N, 2048] global-average-pooled feature
  Tensor feature_map;  // [N, 2048, H/32, W/32] last stage's output
};

struct ResNetOptions {
  int64_t num_classes = 1000;        // 0: no fc layer
  bool zero_init_residual = false;   // each block's last BN gamma starts at 0
  std::vector<int64_t> layers{3, 4, 6, 3};  // ResNet-50
  uint64_t seed = 0;                 // initialisation
};

class ResNet : public nn::Module {
 public:
  explicit ResNet(const ResNetOptions& opt = {});
  ResNetOutput forward(const Tensor& x);  // x [N, 3, H, W], H and W >= 32
  int64_t num_classes() const { return num_classes_; }
  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::vector<std::shared_ptr<nn::Module>> stages;  // layer1..layer4
  std::shared_ptr<nn::Linear> fc;

 private:
  int64_t num_classes_;
};

std::shared_ptr<ResNet> resnet50(int64_t num_classes = 1000, uint64_t seed = 0, bool zero_init_residual = false);

// SADA's local-alignment MLP, applied at every location of a feature map:
// 1x1 conv in->hidden, ReLU, 1x1 conv hidden->out (names "0.*", "2.*" as nn.Sequential).
class LocalAlignmentHead : public nn::Module {
 public:
  LocalAlignmentHead(int64_t in = 2048, int64_t hidden = 2048, int64_t out = 128, uint64_t seed = 1);
  Tensor forward(const Tensor& feature_map);  // [N, in, h, w] -> [N, out, h, w]
  std::shared_ptr<nn::Conv2d> fc1, fc2;
};

// SADA's contrastive projector: linear in->out, or an MLP in->hidden->out (hidden > 0).
class ProjectionHead : public nn::Module {
 public:
  ProjectionHead(int64_t in = 2048, int64_t out = 128, int64_t hidden = 0, uint64_t seed = 2);
  Tensor forward(const Tensor& pooled);
  std::shared_ptr<nn::Linear> fc1, fc2;  // fc2 only for the MLP
};

}  // namespace sadanet::models
