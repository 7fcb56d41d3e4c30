// SWAD (Cha et al., "SWAD: Domain Generalization by Seeking Flat Minima", NeurIPS 2021), as its
// reference code (github.com/khanrc/swad: domainbed/swad.py LossValley, domainbed/lib/swa_utils.py
// AveragedModel, domainbed/trainer.py) does it, decision for decision:
//
//  * Every training step the current weights are added to a running "segment" average (dense
//    averaging). After the step s with s % eval_every == 0 (s counted from 0 within the averaged
//    stage, so step 0 is evaluated too) the validation loss of the CURRENT model (not of the
//    average) is computed on the source domains' val parts, and the segment (its mean weights, its
//    first and last step, that loss) goes to LossValley; a new segment starts.
//  * Convergence: once n_converge segments are queued, the run has converged at the oldest of the
//    last n_converge evaluations when that one is their minimum (numpy argmin: the first of equal
//    values), i.e. the loss did not improve over the n_converge - 1 evaluations after it. It is a
//    local minimum of the window, not the global one. Then
//        threshold = mean(last n_converge losses) * (1 + tolerance_ratio)
//    and the average starts from segments before the converged one: with n_tolerance >
//    n_converge, Q = the first n_tolerance - n_converge + 1 entries of the smoothing queue (the
//    last n_tolerance evaluations); going back from Q's end to the first loss above the
//    threshold at index i, the segments Q[i+2..] are averaged (the reference skips Q[i+1]);
//    with no loss above it, Q[1..]. (n_tolerance < n_converge: the converge queue's entries
//    1 .. n_converge - n_tolerance.)
//  * The valley: at each later evaluation, once the oldest entry of the smoothing queue is at or
//    after the converged evaluation, that oldest segment is added when the minimum loss over the
//    smoothing queue (it and the n_tolerance - 1 evaluations after it) is <= threshold; when that
//    minimum is above the threshold the valley is dead: averaging ends (and the reference stops
//    training, SwadConfig::early_stop).
//  * At the end (get_final_model) the still-queued segments after the oldest are added while the
//    minimum over the rest of the queue stays <= threshold. Never converged: the result is the last
//    segment's average, with a warning.
//
// Quirks kept on purpose (they are the reference's behaviour; the test pins them):
//  - AveragedModel's first update OVERWRITES its weights (n_averaged == 0 -> copy), so the
//    "until-min" segment the final model is created from only survives when nothing else is added.
//  - With the defaults (3, 6) the converged segment is added twice: once from Q at convergence
//    and again when it reaches the head of the smoothing queue.
//  - Segments are averaged with equal weight (the mean of segment means); all segments but the
//    first (step 0 alone) hold eval_every steps, so this is the dense per-step average over the
//    chosen range with those two exceptions.
//  - Only parameters are averaged, never BN buffers; the trainer re-estimates BN statistics
//    afterwards when BN ran in train mode during the averaged stage (see recompute_bn_statistics).
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sadanet/tensor.h"

namespace sadanet::train {

// swa_utils.AveragedModel over a list of tensors.
struct AveragedWeights {
  std::vector<Tensor> params;  // running mean (own storage); empty until the first update
  int64_t n_averaged = 0;
  int64_t start_step = -1, end_step = -1;

  // AveragedModel(model): a copy whose first update() will overwrite it.
  static AveragedWeights copy_of(const std::vector<Tensor>& params);
  // update_parameters(model, step, start_step, end_step): p += (m - p) / (n + 1) (a copy when
  // n == 0); start_step (or step) is recorded on the first update only, end_step (or step) always.
  void update(const std::vector<Tensor>& model, std::optional<int64_t> step = {},
              std::optional<int64_t> start = {}, std::optional<int64_t> end = {});
};

struct SwadSegment {
  AveragedWeights weights;
  double loss = 0;  // the validation loss at the segment's end
};

class LossValley {
 public:
  LossValley(int n_converge, int n_tolerance, double tolerance_ratio);

  // One evaluation: the segment that just ended and the validation loss at its end.
  void update_and_evaluate(const AveragedWeights& segment, double val_loss);
  // get_final_model() without changing the detector: std::nullopt when nothing was evaluated.
  std::optional<AveragedWeights> final_weights(std::string* note = nullptr) const;

  bool converged() const { return converge_step_.has_value(); }
  bool dead_valley() const { return dead_; }
  // Steps the average holds so far (last - first + 1; 0 before convergence). Final once dead.
  int64_t averaged_steps() const { return final_ ? final_->end_step - final_->start_step + 1 : 0; }
  std::optional<int64_t> converge_step() const { return converge_step_; }
  double threshold() const { return threshold_; }
  // What happened at the last update_and_evaluate ("converged at step 300, threshold 0.61", ...).
  const std::string& last_event() const { return event_; }

  // State for checkpoints: JSON (numbers exact) plus tensors named "<prefix>seg.<i>.<j>" and
  // "<prefix>final.<j>" (j: parameter index).
  std::string state_json() const;
  void state_tensors(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  void load_state(const std::string& json, const std::map<std::string, Tensor>& tensors, const std::string& prefix);

 private:
  using SegPtr = std::shared_ptr<const SwadSegment>;
  double smooth_min(size_t from) const;
  int n_converge_, n_tolerance_;
  double ratio_;
  std::deque<SegPtr> converge_q_, smooth_q_;
  std::optional<AveragedWeights> final_;
  std::optional<int64_t> converge_step_;
  bool dead_ = false;
  double threshold_ = 0;
  std::string event_;
};

// The trainer's side: the current segment, when to evaluate, and the detector.
class SwadTracker {
 public:
  SwadTracker(int n_converge, int n_tolerance, double tolerance_ratio, int64_t eval_every);
  // After optimizer step `step` (0-based within the stage): the segment takes the weights.
  void after_step(const std::vector<Tensor>& params, int64_t step);
  bool should_evaluate(int64_t step) const { return step % eval_every_ == 0; }
  // Ends the current segment with the validation loss and starts a new one.
  void evaluate(double val_loss);
  const LossValley& valley() const { return valley_; }
  int64_t eval_every() const { return eval_every_; }

  std::string state_json() const;
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;  // "swad.*"
  void load_state(const std::string& json, const std::map<std::string, Tensor>& tensors);

 private:
  LossValley valley_;
  int64_t eval_every_;
  AveragedWeights segment_;
};

}  // namespace sadanet::train
