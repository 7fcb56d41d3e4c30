// 8-bit RGB images: decoding (stb_image: JPEG, PNG, BMP), bilinear resizing, PNG writing, and
// conversion to normalised float tensors.
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

// Throws sadanet::Error naming the file and stb's reason; never crashes on a bad file.
// Grey and RGBA files are converted to RGB. Images over 16384 px a side are refused.
Image load_image(const std::string& path);
Image decode_image(const uint8_t* bytes, size_t n, const std::string& name_for_errors);
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
