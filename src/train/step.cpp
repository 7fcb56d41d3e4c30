#include "train/step.h"

#include <chrono>

#include "sadanet/sada/losses.h"

namespace sadanet::train::internal {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

StepOutput cross_entropy_step(Networks& net, const data::Batch& batch, Device dev, StepTimes& t) {
  auto t0 = Clock::now();
  Tensor x = data::normalize_images(batch.images).to(dev);
  Tensor y = batch.labels.to(dev);
  t.augment += since(t0);
  t0 = Clock::now();
  Tensor ce = cross_entropy(net.backbone->forward(x).logits, y);
  t.forward += since(t0);
  return {ce, {{"ce", ce}}};
}

StepOutput sada_stage1_step(Networks& net, const data::Batch& batch, const TrainConfig& cfg,
                            const stain::StainAugmentOptions& aug, Generator& aug_gen, Device dev, StepTimes& t) {
  SADANET_CHECK(net.la && net.projector, "SADA stage 1: the networks have no LA head / projector");
  auto t0 = Clock::now();
  stain::AugmentedBatch ab = stain::stain_augment(batch.images, aug, aug_gen);
  const int64_t n = ab.n;
  // Row n + i*(k-1) + m is a view of original i (AugmentedBatch's layout).
  std::vector<int64_t> view_source;
  view_source.reserve(ab.source.size() - static_cast<size_t>(n));
  for (size_t r = static_cast<size_t>(n); r < ab.source.size(); ++r) view_source.push_back(ab.source[r]);
  Tensor x = data::normalize_images(ab.images).to(dev);
  Tensor labels = batch.labels.to(dev);
  t.augment += since(t0);

  t0 = Clock::now();
  models::ResNetOutput out = net.backbone->forward(x);
  Tensor disc = sada::disc_loss(net.projector->forward(out.pooled), labels, n, view_source, cfg.tau, cfg.anchor);
  StepOutput s{disc, {{"disc", disc}}};
  if (cfg.beta > 0) {
    Tensor la = sada::local_alignment_loss(net.la->forward(out.feature_map), n, view_source, cfg.la_image_mean);
    s.loss = add(disc, mul(la, cfg.beta));
    s.terms.emplace_back("la", la);
  }
  t.forward += since(t0);
  return s;
}

}  // namespace sadanet::train::internal
