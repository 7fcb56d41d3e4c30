// 8-bit RGB images: decoding (JPEG through libjpeg-turbo, PNG through libpng, BMP through our own
// checked reader), bilinear resizing, PNG writing, and conversion to normalised float tensors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sadanet/tensor.h"

namespace sadanet::data {

struct Image {
  int height = 0, width = 0;
  std::vector<uint8_t> rgb;  // row-major HWC, 3 channels
  uint8_t* at(int y, int x) { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
  const uint8_t* at(int y, int x) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};

// Limits against hostile files. Both are checked before any pixel is decoded: the file size with
// fstat before reading, the pixel count from the header. Decoding memory is bounded to about
// 3 bytes per allowed pixel plus a few MB (libjpeg's working memory and libpng's chunk buffers).
constexpr int64_t kDefaultMaxPixels = int64_t{64} * 1024 * 1024;       // 64 MP
constexpr int64_t kDefaultMaxFileBytes = int64_t{256} * 1024 * 1024;   // 256 MiB

struct DecodeOptions {
  int64_t max_pixels = kDefaultMaxPixels;      // width * height of the file, as its header says
  int64_t max_file_bytes = kDefaultMaxFileBytes;
  // Target size hint (0: none, decode full size). A JPEG may then be decoded at 1/2, 1/4 or 1/8
  // scale (libjpeg-turbo's reduced IDCT): the smallest of those whose output is still at least
  // hint_height x hint_width. Other formats ignore it. For callers that resize down right after.
  int hint_height = 0, hint_width = 0;
};

// Throw sadanet::Error naming the file and the reason; never crash on a bad file. Grey, paletted
// and RGBA files are converted to RGB (alpha dropped, as PIL's convert("RGB")). A truncated
// JPEG or PNG is an error, not an image with grey or black rows.
Image load_image(const std::string& path, const DecodeOptions& opts = {});
Image decode_image(const uint8_t* bytes, size_t n, const std::string& name_for_errors, const DecodeOptions& opts = {});

// Bilinear, half-pixel centres (align_corners=False), as torch's interpolate without antialias.
Image resize_bilinear(const Image& img, int height, int width);
void save_png(const std::string& path, const Image& img);  // atomic: temp file then rename

// [3, H, W] f32 in [0,1], then (x - mean) / std per channel.
constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};
Tensor to_tensor(const Image& img, const float mean[3] = kImageNetMean, const float std[3] = kImageNetStd);
// [3, H, W] u8, unnormalised (for stain augmentation, which works on 8-bit colours).
Tensor to_u8_tensor(const Image& img);

}  // namespace sadanet::data
