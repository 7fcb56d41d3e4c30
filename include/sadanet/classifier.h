// sadanet::Classifier: a trained white-cell classifier in three calls, for programs that embed
// the engine. Loads any model file `sadanet predict` reads (a run's final.safetensors or
// last.safetensors, a training checkpoint, an imported torchvision ResNet-50) and takes its
// architecture, input size, normalisation and class names from the file.
//
//   auto clf = sadanet::Classifier::load("runs/zheng18/final.safetensors");
//   sadanet::Prediction p = clf.predict("cell.jpg");
//   std::cout << p.label << " " << p.probability << "\n";
//
// Errors throw sadanet::Error (sadanet/error.h) saying what was expected and what came: an
// unreadable or unsupported model file in load(), an unreadable image in predict(). A Classifier
// is cheap to copy (copies share the network) and safe to call from several threads: calls on
// one network take turns.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sadanet/export.h"

namespace sadanet {

struct SADANET_API ClassScore {
  int64_t index = 0;
  std::string label;
  float probability = 0;
};

struct SADANET_API Prediction {
  int64_t index = 0;                // the most probable class
  std::string label;                // its name
  float probability = 0;            // its softmax probability
  std::vector<float> probabilities; // one per class, in class order
  std::vector<float> logits;        // the classifier's raw outputs, in class order
  // The k most probable classes, most probable first (ties: lower index first); k is clamped
  // to the class count.
  std::vector<ClassScore> top(size_t k) const;

 private:
  friend class Classifier;
  std::shared_ptr<const std::vector<std::string>> names_;  // the Classifier's, for top()
};

struct SADANET_API ClassifierOptions {
  std::string device = "cpu";       // "cpu", "cuda" or "cuda:N"
  int64_t max_pixels = 64'000'000;  // image files whose header declares more are refused unread
};

class SADANET_API Classifier {
 public:
  static Classifier load(const std::string& model_path, const ClassifierOptions& options = {});

  // One image file (JPEG, PNG or BMP; the content decides, not the extension).
  Prediction predict(const std::string& image_path) const;
  // Interleaved 8-bit RGB, `height` rows of `stride` bytes (stride >= 3 * width; 0: 3 * width).
  Prediction predict_rgb(const uint8_t* rgb, int width, int height, size_t stride = 0) const;
  // Several image files through the network as one batch. An unreadable file does not stop the
  // others: its result has no prediction and says why in `error`. Results are in input order.
  struct FileResult {
    std::string path;
    bool ok = false;
    Prediction prediction;  // when ok
    std::string error;      // when not ok: the decoder's or the check's message
  };
  std::vector<FileResult> predict_files(const std::vector<std::string>& image_paths) const;

  const std::vector<std::string>& classes() const;
  int input_size() const;            // the model's square input side, pixels
  std::string architecture() const;  // "resnet50", "resnet-tiny"
  std::string device() const;        // where the network runs, e.g. "cpu", "cuda:0"
  std::string model_format() const;  // "sadanet-model", "sadanet-checkpoint", "torchvision"
  const std::string& model_path() const;

  struct Impl;

 private:
  explicit Classifier(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace sadanet
