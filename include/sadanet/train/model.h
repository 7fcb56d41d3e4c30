// The networks a run trains: the ResNet backbone with its classifier, and SADA's two stage-1
// heads, built from a TrainConfig; their tensors under checkpoint prefixes; pretrained weights;
// batch-norm helpers.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sadanet/models/resnet.h"
#include "sadanet/train/config.h"

namespace sadanet::train {

struct Networks {
  std::shared_ptr<models::ResNet> backbone;           // with fc (num_classes outputs)
  std::shared_ptr<models::LocalAlignmentHead> la;     // SADA only
  std::shared_ptr<models::ProjectionHead> projector;  // SADA only
};

// Channels of the backbone's last stage (the LA head's and projector's input).
inline constexpr int64_t kFeatureChannels = 2048;

models::ResNetOptions backbone_options(const TrainConfig& cfg, int64_t num_classes);
// Initialised from cfg.seed (backbone), cfg.seed + 1 (LA head), cfg.seed + 2 (projector); heads
// only for SADA. Placed on cfg.device.
Networks build_networks(const TrainConfig& cfg, int64_t num_classes);

// "model.<torchvision name>", and with heads "la.<name>", "proj.<name>".
nn::NamedTensors network_tensors(const Networks& n, bool with_heads);
// Loads tensors written by network_tensors (strict: every tensor of the networks must be there).
void load_network_tensors(Networks& n, const nn::NamedTensors& tensors, bool with_heads);

// Loads ImageNet weights into the backbone (safetensors or .pth, torchvision names). A 1000-class
// fc (or any fc of another width) is dropped; missing num_batches_tracked buffers are allowed.
// Returns a one-paragraph report of what was loaded and dropped; throws on anything else missing
// or mismatched.
std::string load_pretrained_backbone(models::ResNet& backbone, const std::string& path);

// The initial weights of a run (TrainConfig::weights): a torchvision file as
// load_pretrained_backbone, or a sadanet model or checkpoint (`--initial-checkpoint`), whose
// backbone is loaded and whose classifier is kept when its class names are `classes`, in the same
// order (fine-tuning on the same labels), else dropped (new labels: it starts from random).
// The architecture must match. Returns the report for the log.
std::string load_initial_weights(models::ResNet& backbone, const std::string& path,
                                 const std::vector<std::string>& classes);

// Every BatchNorm2d below m, in state_dict order.
std::vector<std::shared_ptr<nn::BatchNorm2d>> batch_norms(const nn::Module& m);

// Re-estimates BN running statistics as torch.optim.swa_utils.update_bn (SWAD does this to the
// averaged model): reset to mean 0 / var 1, then a cumulative average (momentum 1/t) over
// `steps` training-mode forward passes of next_images() (normalised f32 batches); the
// momenta are restored afterwards. Leaves the model in eval mode.
void recompute_bn_statistics(models::ResNet& model, int64_t steps, const std::function<Tensor()>& next_images);

}  // namespace sadanet::train
