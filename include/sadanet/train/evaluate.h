// Running a trained model over a list of images: predictions, the per-image cross-entropy (for
// SWAD's validation loss) and the metrics of a split; and `sadanet eval`'s whole job on a model
// file (evaluate_model_file).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sadanet/data/dataset.h"
#include "sadanet/data/loader.h"
#include "sadanet/eval/metrics.h"
#include "sadanet/models/resnet.h"

namespace sadanet::train {

struct Predictions {
  std::vector<int64_t> truth, predicted;  // class ids, in the loader's item order
  std::vector<int32_t> domain;
  std::vector<double> loss;               // cross-entropy of each image
};

// An eval-mode loader (resize to size x size, no augmentation) over items.
std::unique_ptr<data::BatchLoader> make_eval_loader(const std::vector<data::Item>& items, int size, int batch,
                                                    int threads, bool cache,
                                                    int64_t max_pixels = data::kDefaultMaxPixels);

// One pass of `loader` (reset first) through `model` in eval mode (BN running statistics; the
// caller restores its own mode afterwards), without gradients.
Predictions predict(models::ResNet& model, data::BatchLoader& loader, Device device);

// SWAD's validation loss ("tr_outloss" in its trainer): the mean cross-entropy of each domain's
// images, averaged over the domains present.
double domain_mean_loss(const Predictions& p);

struct EvalReport {
  std::string domain, split;   // split: "test" or "all"
  uint64_t split_seed = 0;     // the run's seed, which decides the test part
  int64_t files = 0;           // image files of the split; images + skipped.size()
  int64_t images = 0;          // those evaluated
  std::vector<data::BadImage> skipped;  // unreadable files, each with the decoder's reason
  eval::Metrics metrics;
  Predictions predictions;
  std::vector<std::string> warnings;  // from the dataset scan
};

// Loads a checkpoint or model file written by `sadanet train`, takes its config (classes, image
// size, arch, split seed), and evaluates it on `domain` of the dataset at data_root: its test part
// (split "test", the part the seed's split holds out) or all of it ("all"). `size` > 0 evaluates
// at that image size; 0 takes the file's, which must then be at most kMaxEvalSizeFromFile (a
// doctored size of 4096 made 4 images cost 13 GB).
inline constexpr int kMaxEvalSizeFromFile = 1024;
EvalReport evaluate_model_file(const std::string& model_path, const std::string& data_root, const std::string& domain,
                               const std::string& split = "test", int batch = 64, const std::string& device = "",
                               int loader_threads = 2, int64_t max_pixels = data::kDefaultMaxPixels, int size = 0);

}  // namespace sadanet::train
