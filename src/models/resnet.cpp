#include "sadanet/models/resnet.h"

namespace sadanet::models {
namespace {
// nn.Sequential-style container: children named "0", "1", ... (for "downsample.0.weight").
class Sequential : public nn::Module {
 public:
  template <class M> std::shared_ptr<M> add(std::shared_ptr<M> m) {
    return register_module(std::to_string(children().size()), m);
  }
};
}  // namespace

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, Generator* gen) {
  const int64_t width = planes, out = planes * kExpansion;
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(inplanes, width, 1, 1, 0, false, gen));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(width));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(width, width, 3, stride, 1, false, gen));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(width));
  conv3 = register_module("conv3", std::make_shared<nn::Conv2d>(width, out, 1, 1, 0, false, gen));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(out));
  if (stride != 1 || inplanes != out) {
    auto ds = std::make_shared<Sequential>();
    ds->add(std::make_shared<nn::Conv2d>(inplanes, out, 1, stride, 0, false, gen));
    ds->add(std::make_shared<nn::BatchNorm2d>(out));
    downsample = register_module("downsample", std::static_pointer_cast<nn::Module>(ds));
  }
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor y = relu(bn1->forward(conv1->forward(x)));
  y = relu(bn2->forward(conv2->forward(y)));
  y = bn3->forward(conv3->forward(y));
  Tensor identity = x;
  if (downsample) {
    auto conv = std::static_pointer_cast<nn::Conv2d>(downsample->child("0"));
    auto bn = std::static_pointer_cast<nn::BatchNorm2d>(downsample->child("1"));
    identity = bn->forward(conv->forward(x));
  }
  return relu(add(y, identity));
}

ResNet::ResNet(const ResNetOptions& opt) : num_classes_(opt.num_classes) {
  SADANET_CHECK(opt.layers.size() == 4, "ResNet: expected 4 stage depths, got ", opt.layers.size());
  SADANET_CHECK(opt.num_classes >= 0, "ResNet: negative class count ", opt.num_classes);
  Generator gen(opt.seed);
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(3, 64, 7, 2, 3, false, &gen));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(64));
  int64_t inplanes = 64;
  const int64_t planes[4] = {64, 128, 256, 512};
  for (int s = 0; s < 4; ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < opt.layers[s]; ++b) {
      int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      auto block = stage->add(std::make_shared<Bottleneck>(inplanes, planes[s], stride, &gen));
      inplanes = planes[s] * Bottleneck::kExpansion;
      if (opt.zero_init_residual) {
        NoGradGuard ng;
        block->bn3->weight.zero_();
      }
    }
    stages.push_back(register_module("layer" + std::to_string(s + 1), std::static_pointer_cast<nn::Module>(stage)));
  }
  if (opt.num_classes > 0) fc = register_module("fc", std::make_shared<nn::Linear>(inplanes, opt.num_classes, true, &gen));
}

ResNetOutput ResNet::forward(const Tensor& x) {
  SADANET_CHECK(x.dim() == 4 && x.size(1) == 3, "resnet: expected input [N, 3, H, W], got ", shape_str(x.shape()));
  SADANET_CHECK(x.size(2) >= 32 && x.size(3) >= 32, "resnet: expected H and W >= 32, got ", x.size(2), "x", x.size(3));
  Tensor y = relu(bn1->forward(conv1->forward(x)));
  y = max_pool2d(y, Pool2dParams::make(3, 2, 1));
  for (auto& stage : stages)
    for (auto& [name, block] : stage->children()) y = std::static_pointer_cast<Bottleneck>(block)->forward(y);
  ResNetOutput out;
  out.feature_map = y;
  out.pooled = global_avg_pool2d(y);
  if (fc) out.logits = fc->forward(out.pooled);
  return out;
}

std::shared_ptr<ResNet> resnet50(int64_t num_classes, uint64_t seed, bool zero_init_residual) {
  ResNetOptions o;
  o.num_classes = num_classes;
  o.seed = seed;
  o.zero_init_residual = zero_init_residual;
  return std::make_shared<ResNet>(o);
}

LocalAlignmentHead::LocalAlignmentHead(int64_t in, int64_t hidden, int64_t out, uint64_t seed) {
  Generator gen(seed);
  fc1 = register_module("0", std::make_shared<nn::Conv2d>(in, hidden, 1, 1, 0, true, &gen, nn::ConvInit::pytorch_default));
  fc2 = register_module("2", std::make_shared<nn::Conv2d>(hidden, out, 1, 1, 0, true, &gen, nn::ConvInit::pytorch_default));
}

Tensor LocalAlignmentHead::forward(const Tensor& f) { return fc2->forward(relu(fc1->forward(f))); }

ProjectionHead::ProjectionHead(int64_t in, int64_t out, int64_t hidden, uint64_t seed) {
  Generator gen(seed);
  if (hidden > 0) {
    fc1 = register_module("0", std::make_shared<nn::Linear>(in, hidden, true, &gen));
    fc2 = register_module("2", std::make_shared<nn::Linear>(hidden, out, true, &gen));
  } else {
    fc1 = register_module("0", std::make_shared<nn::Linear>(in, out, true, &gen));
  }
}

Tensor ProjectionHead::forward(const Tensor& x) {
  Tensor y = fc1->forward(x);
  return fc2 ? fc2->forward(relu(y)) : y;
}

}  // namespace sadanet::models
