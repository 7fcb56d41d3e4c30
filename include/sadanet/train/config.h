// TrainConfig: every choice a training run makes, written to RUNDIR/config.json and into every
// checkpoint's metadata, so that a run can be resumed and its models evaluated with the same
// classes, image size and split seed.
//
// Presets (apply_preset; explicit options given afterwards override them):
//                         paper (default)                  reference-code (the authors' code)
//   beta (LA weight)      0.1                              0 (local alignment off)
//   contrastive anchor    view_mean (Eq. 6)                each_sample (plain SupCon)
//   stage 2               classifier (backbone frozen)     full (everything fine-tuned)
//   batch norm            train                            frozen (running statistics)
//   stain augmentation    StainVariant::paper              StainVariant::reference_code
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sadanet/data/image.h"
#include "sadanet/ops.h"
#include "sadanet/sada/losses.h"
#include "sadanet/stain.h"

namespace sadanet::train {

enum class Method : uint8_t { erm, sada };
enum class Arch : uint8_t { resnet50, resnet_tiny };  // resnet_tiny: one bottleneck per stage
enum class Stage2 : uint8_t { classifier, full };
enum class Projector : uint8_t { linear, mlp };

const char* method_name(Method m);        // "erm", "sada"
const char* arch_name(Arch a);            // "resnet50", "resnet-tiny"
const char* stage2_name(Stage2 s);        // "classifier", "full"
const char* projector_name(Projector p);  // "linear", "mlp"
const char* anchor_name(sada::ContrastiveAnchor a);  // "view_mean", "each_sample"
// Parsers: throw sadanet::Error naming the accepted values.
Method method_from_name(const std::string& s);
Arch arch_from_name(const std::string& s);  // also "resnet_tiny"
Stage2 stage2_from_name(const std::string& s);
Projector projector_from_name(const std::string& s);
sada::ContrastiveAnchor anchor_from_name(const std::string& s);  // also "view-mean", "each-sample"

// SWAD (Cha et al. 2021), LossValley as in its reference code (see swad.h).
struct SwadConfig {
  bool enabled = true;
  int64_t eval_every = 0;   // validation loss every this many steps; 0: max(1, stage steps / 40)
  int n_converge = 3;
  int n_tolerance = 6;
  double tolerance_ratio = 0.3;
  int64_t bn_steps = 500;   // batches that re-estimate BN statistics of the averaged model (0: none)
  bool early_stop = true;   // end the averaged stage when the valley is dead (as the reference)
  // The shipped average must span at least this share of the stage's steps; a shorter one (a
  // valley found and lost in the first few evaluations) gives the last model instead, and the
  // early stop waits until the average is long enough to be shipped.
  double min_share = 0.1;
};

// The position of the first byte of `s` that is not part of well-formed UTF-8, or npos. Paths
// and names go into JSON (config.json, checkpoint metadata), which holds only UTF-8.
size_t invalid_utf8_at(const std::string& s);

struct TrainConfig {
  // data
  std::string data;         // <root>/<domain>/<class>/<image>
  std::string target;       // held-out domain
  // "all" (default): every target image (a left-out domain is never trained on); "test": only
  // its 20% test part, as sadanet did before 2026-12 (2.5x wider confidence intervals).
  std::string target_eval = "all";
  // The labels in order (empty: data::default_classes()) and further class folders (folder ->
  // class), from --classes or --class-map: see data::ScanOptions.
  std::vector<std::string> classes;
  std::map<std::string, std::string> class_folders;
  // model and method
  Method method = Method::sada;
  Arch arch = Arch::resnet50;
  std::string preset = "paper";
  std::string weights;      // optional: ImageNet ResNet-50 (torchvision names; fc dropped) or a sadanet model
  // schedule
  int64_t steps1 = 4000;    // SADA stage 1 (contrastive + local alignment)
  int64_t steps2 = 4000;    // SADA stage 2 (cross-entropy)
  int64_t steps_erm = 0;    // ERM; 0: steps1 + steps2 (the same number of optimizer steps as SADA)
  int batch = 32;           // images per source domain per step
  int size = 224;
  double lr = 5e-5;         // Adam, both stages
  BatchNormMode bn = BatchNormMode::train;  // train or frozen
  Stage2 stage2 = Stage2::classifier;
  // false (default): one Adam state across both SADA stages, as the authors' code; true: stage 2
  // starts a fresh Adam (sadanet before 2026-12), whose first full-size steps wreck the stage-1
  // features under --stage2 full.
  bool stage2_fresh_optimizer = false;
  // SADA
  double beta = 0.1;        // weight of the local-alignment loss
  double tau = 0.1;         // contrastive temperature
  int k = 0;                // stain clusters: k-1 re-stained views; 0 (auto): the source domains (>= 2)
  sada::ContrastiveAnchor anchor = sada::ContrastiveAnchor::view_mean;
  stain::StainVariant stain = stain::StainVariant::paper;
  bool la_image_mean = false;  // LA loss: false = sum over originals (paper), true = mean
  int64_t la_hidden = 2048, la_out = 128;
  Projector projector = Projector::linear;
  int64_t proj_dim = 128, proj_hidden = 2048;  // proj_hidden: MLP only
  SwadConfig swad;
  // running
  std::string device = "cpu";
  uint64_t seed = 0;        // initialisation, loader, augmentation and the split
  int threads = 0;          // CPU compute threads; 0: library default
  int loader_threads = 2;   // image decoding workers
  bool cache = true;        // keep decoded images in memory
  int64_t max_pixels = data::kDefaultMaxPixels;  // image files declaring more pixels are refused
  int eval_batch = 64;
  int64_t log_every = 10;
  int64_t ckpt_every = 100;
  double ckpt_minutes = 10;  // also checkpoint when this much wall time passed since the last; 0: off

  // ERM's step count (steps_erm or steps1 + steps2).
  int64_t erm_steps() const { return steps_erm > 0 ? steps_erm : steps1 + steps2; }
  // Throws sadanet::Error naming the field, what was expected and what came.
  void validate() const;
  // The numeric bounds of a config read from a file (a model's or checkpoint's metadata), which
  // may have been doctored: every size, count and step that decides memory or time is bounded
  // (steps <= kMaxFileSteps, widths <= kMaxFileWidth, ...), as are validate()'s numeric fields.
  // The image size keeps validate()'s 32..4096; `eval` caps a file's own size further.
  void check_file_limits() const;
  // Keys whose values differ and that change the result (everything but device, threads,
  // loader_threads, cache, max_pixels, eval_batch, log_every, ckpt_every, ckpt_minutes and the
  // data path): a resumed run must agree on them.
  std::vector<std::string> identity_diff(const TrainConfig& other) const;
};

inline constexpr int64_t kMaxFileSteps = 100'000'000;  // steps, step numbers, intervals
inline constexpr int64_t kMaxFileWidth = 8192;          // la_hidden, la_out, proj_dim, proj_hidden
inline constexpr int64_t kMaxFileClasses = 10000;

// Sets the preset's fields (table above) and cfg.preset; throws for an unknown name.
void apply_preset(TrainConfig& cfg, const std::string& preset);

std::string config_to_json(const TrainConfig& cfg, int indent = 2);
// Missing keys keep their defaults; unknown keys and wrong types throw, naming the key.
TrainConfig config_from_json(const std::string& text);

}  // namespace sadanet::train
