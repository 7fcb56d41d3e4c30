// One training step's forward pass for each kind of stage (internal to the trainer): the loss to
// differentiate and its named terms, with the time spent augmenting and in the forward pass.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "sadanet/data/loader.h"
#include "sadanet/stain.h"
#include "sadanet/train/config.h"
#include "sadanet/train/model.h"

namespace sadanet::train::internal {

struct StepTimes {
  double load = 0, augment = 0, forward = 0, backward = 0, optimizer = 0;  // seconds
};

struct StepOutput {
  Tensor loss;                                       // scalar, differentiable
  std::vector<std::pair<std::string, Tensor>> terms;  // the weighted sum's parts (unweighted values)
};

// Cross-entropy of the backbone's logits on the joint batch (ERM, SADA stage 2).
StepOutput cross_entropy_step(Networks& net, const data::Batch& batch, Device dev, StepTimes& t);

// SADA stage 1: stain-augment the u8 batch (k-1 views per image), then
//   disc_loss(projector(pooled)) + beta * local_alignment_loss(LA(feature_map))
// over the N originals and N(k-1) views in one forward pass. LA is skipped when beta == 0.
StepOutput sada_stage1_step(Networks& net, const data::Batch& batch, const TrainConfig& cfg,
                            const stain::StainAugmentOptions& aug, Generator& aug_gen, Device dev, StepTimes& t);

}  // namespace sadanet::train::internal
