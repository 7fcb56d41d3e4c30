// Batches of images for training and evaluation, decoded on a pool of worker threads.
//
// Training (LoaderOptions::mode = train): each step takes `batch` images from every source
// domain (per_domain, the default; the batch holds the domains' blocks in ascending domain-id
// order) or `batch` images from the pooled items. Each domain is walked through a fresh seeded
// permutation per epoch, without replacement within an epoch; a step that crosses the end of an
// epoch continues in the next one. The plan is a pure function of (seed, step):
//   image j of domain group g at step s is the item at position p = (s*batch + j) mod n_g of
//   permutation e = (s*batch + j) / n_g of group g, the permutation sorting Philox words
//   (seed, offset 2^63 | g<<40 | e, element i) ascending (ties by position);
//   its transform draws Philox uniforms (seed, offset s, element slot*64 + k).
// So a batch is the same whatever the thread count or timing, and the loader's whole state is
// (seed, step) plus a digest of its item list: LoaderState, saved with a checkpoint, restores
// it bit-exactly. The loader's sadanet::Generator is (seed, offset = steps handed out).
//
// Transforms. train: resize to resize x resize (resize 0: keep the decoded size), then
// torchvision's RandomResizedCrop (scale [0.7, 1], ratio [3/4, 4/3], 10 attempts then a centre
// crop of the closest allowed ratio) resized to size x size, then a horizontal flip with p = 0.5.
// eval: resize to size x size. Resizing is sadanet::data::resize_bilinear (no antialiasing).
//
// Unreadable images: with `validate` every image is decoded once at construction (on the
// workers) and the bad ones are dropped and listed in bad_images() with the reason; one that fails later is
// replaced by the next good item of its group (deterministic for the same files). Either way,
// more than max_bad_fraction of the items bad is an Error naming the count and some paths.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sadanet/data/dataset.h"
#include "sadanet/data/image.h"
#include "sadanet/random.h"
#include "sadanet/tensor.h"

namespace sadanet::data {

enum class LoaderMode : uint8_t { train, eval };

struct LoaderOptions {
  LoaderMode mode = LoaderMode::train;
  int batch = 32;           // train: images per domain group per step; eval: images per step
  int size = 224;           // output side S
  int resize = -1;          // train: first resize to this square (-1: size; 0: none)
  double scale_min = 0.7, scale_max = 1.0;         // RandomResizedCrop area fraction
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  // RandomResizedCrop aspect ratio w/h
  double hflip = 0.5;       // probability of a horizontal flip
  bool per_domain = true;   // train: `batch` images from each domain (else from the pooled items)
  uint64_t seed = 0;
  int threads = 2;          // decoding workers, >= 1
  int prefetch = 4;         // batches decoded ahead of the consumer, >= 1
  bool validate = true;     // decode every image once at construction and drop the bad ones
  bool cache = false;       // keep the decoded, first-resized images in memory
  double max_bad_fraction = 0.05;
  // Decoding limits (max_pixels, file size). The loader adds the target size hint itself where
  // it resizes right after decoding (eval: size; train: resize), so large JPEGs decode scaled.
  DecodeOptions decode;
};

struct BadImage {
  std::string path;
  std::string reason;  // the decoder's message, "image <path>: ..."
};

struct Batch {
  int64_t step = 0;
  Tensor images;               // u8 [B, 3, S, S], RGB
  Tensor labels;               // i64 [B], class ids
  Tensor domains;              // i64 [B], Item::domain
  std::vector<int64_t> items;  // index of each image in the loader's items()
};

// Everything a checkpoint needs to resume a training loader exactly.
struct LoaderState {
  int64_t step = 0;                 // batches handed out
  uint64_t seed = 0;                // the generator's seed
  uint64_t generator_offset = 0;    // the generator's offset (== step)
  std::vector<int32_t> groups;      // domain id of each group (-1: pooled)
  std::vector<int64_t> epoch;       // per group: the epoch the next image comes from
  std::vector<int64_t> offset;      // per group: its position in that epoch's permutation
  uint64_t items_hash = 0;          // digest of the item list (after dropping bad images)
  std::string to_json() const;
  static LoaderState from_json(const std::string& text);  // throws sadanet::Error on bad input
};

struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};
// torchvision.transforms.RandomResizedCrop.get_params for an image of height x width, drawing
// uniforms in [0, 1) from `uniform` (at most 40 draws: 4 per attempt). Always inside the image.
CropBox random_resized_crop_box(int height, int width, double scale_min, double scale_max, double ratio_min,
                                double ratio_max, const std::function<double()>& uniform);
Image crop(const Image& img, const CropBox& box);
void flip_horizontal(Image& img);

// u8 [..., 3, H, W] -> f32, (x/255 - mean[c]) / std[c], on the input's device.
Tensor normalize_images(const Tensor& u8, const float mean[3] = kImageNetMean, const float std[3] = kImageNetStd);

class BatchLoader {
 public:
  BatchLoader(std::vector<Item> items, const LoaderOptions& opts);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch. train: always one; eval: std::nullopt after the last (smaller) batch.
  std::optional<Batch> next();
  // eval: start again from the first batch.
  void reset();

  LoaderState state() const;
  // Resume from a saved state: the next batch is the one that followed it. Throws when the
  // state's groups or item digest differ from this loader's.
  void restore(const LoaderState& s);

  const LoaderOptions& options() const { return opts_; }
  const std::vector<Item>& items() const { return items_; }  // after dropping bad images
  const std::vector<int32_t>& group_domains() const { return group_domain_; }
  // train: steps for every image of the largest group to be seen once; eval: batches per pass.
  int64_t steps_per_epoch() const;
  int64_t batch_images() const;  // images per full batch
  std::vector<std::string> bad_paths() const;  // sorted
  std::vector<BadImage> bad_images() const;    // sorted by path, each with why it failed
  int64_t bad_count() const;

 private:
  struct Pending;
  void worker();
  std::shared_ptr<Pending> plan(int64_t step);  // under mu_
  const std::vector<int32_t>& permutation(size_t group, int64_t epoch);  // under mu_
  void process(Pending& p, int slot);
  DecodeOptions decode_options() const;  // opts_.decode with the size hint
  std::shared_ptr<const Image> base_image(int64_t item);  // decoded + first resize; throws on bad files
  void mark_bad(int64_t item, const std::string& why);    // under mu_
  void check_bad_fraction() const;                         // under mu_
  void validate_all();
  void start_workers();
  void stop_workers();

  LoaderOptions opts_;
  std::vector<Item> items_;
  std::vector<std::vector<int64_t>> groups_;  // item indices per group
  std::vector<int32_t> group_domain_;
  int64_t initial_items_ = 0;
  uint64_t items_hash_ = 0;
  Generator gen_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  int64_t consumed_ = 0;
  int64_t sched_step_ = 0;
  int sched_slot_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::map<int64_t, std::shared_ptr<Pending>> pending_;
  std::map<std::pair<size_t, int64_t>, std::vector<int32_t>> perms_;
  std::set<int64_t> bad_items_;
  std::vector<BadImage> bad_;
  std::vector<std::thread> workers_;

  std::mutex cache_mu_;
  std::vector<std::shared_ptr<const Image>> cache_;
};

}  // namespace sadanet::data
