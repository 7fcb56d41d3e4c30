// Helpers for the data-pipeline tests: a scratch folder removed with everything in it, tiny
// generated images, and a fresh random seed per run (printed, so a failure can be replayed with
// SADANET_TEST_SEED=<seed>).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sadanet/data/image.h"

namespace sadanet::test {

class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// The seed of this test's random inputs: SADANET_TEST_SEED if set, else a fresh one; printed.
uint64_t fresh_seed(const char* what);

// An h x w image whose pixels encode `tag` (R = tag & 255, G = tag >> 8) plus a gradient in B,
// so a loaded or resized copy can be traced back to its file.
data::Image tagged_image(int h, int w, int tag);
// Writes an image file, making its folders: a BMP for a .bmp path, else PNG bytes (whatever the
// extension: the decoder goes by the content).
void write_image(const std::string& path, const data::Image& img);
// Writes bytes to a file, making its folders.
void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

}  // namespace sadanet::test
