// Synthetic stained white blood cells: a small multi-domain dataset for tests, demos and smoke
// runs of training, with the structure the real task has.
//
// Each image is rendered as two stain-density maps, h_nuclear (the blue-purple azure/methylene
// blue) and h_eosin (pink-red), composed by Beer-Lambert with the domain's two stain colours
// W (optical-density unit vectors, 3 x 2) and a background tint b:
//     pixel = 255 * exp(-(W h + b)),
// so the stain augmentation finds two real stains per domain. Classes differ as real ones do:
//   lymphocyte  small cell, large round dense nucleus filling most of it, thin bluish rim
//   monocyte    large cell, folded kidney-shaped nucleus with lacy chromatin, grey-blue
//               cytoplasm with a few vacuoles
//   neutrophil  3-5 nuclear lobes joined by thin strands, pale pink finely granular cytoplasm
//   eosinophil  bilobed nucleus, cytoplasm packed with large orange-red granules
//   basophil    dark purple granules over the whole cell, hiding much of the nucleus
// Domains differ in their stain vectors and strengths, background brightness and tint, blur and
// noise; red blood cells (pink discs with a pale centre) surround the white cell. Position,
// rotation, size and shapes are jittered. Every image is a pure function of (seed, domain,
// class, index), so a seed reproduces the dataset byte for byte.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sadanet/data/image.h"

namespace sadanet::data {

struct SynthDomain {
  std::string name;                            // synthA, synthB, ...
  std::array<std::array<float, 3>, 2> stains;  // OD unit vectors (R, G, B): nuclear, eosin
  std::array<float, 2> strength{};             // density multipliers of the two stains
  std::array<float, 3> background_od{};        // OD added everywhere (brightness and tint)
  float blur_sigma = 0;                        // Gaussian blur of the densities, in pixels at size 96
  float noise = 0;                             // Gaussian pixel noise (std, in 8-bit levels)
  float rbc_density = 0;                       // eosin density of the red cells
};

// "synthA" .. "synthZ" (index 0..25).
std::string synth_domain_name(int index);
// The look of domain `index`: a fixed preset per index (six of them, the later ones random),
// jittered by the seed.
SynthDomain synth_domain(int index, uint64_t seed);

// One size x size cell of class `label` (an index into default_classes()) from image seed `seed`.
Image synth_cell(const SynthDomain& domain, int label, int size, uint64_t seed);

// Images of each class (default_classes() order) in domain `index`: per_class each when balanced;
// otherwise per_class for the most frequent class (neutrophil) and fewer for the others, by a
// fixed profile per domain that copies the shape of the real labs in ../shared/data/wbc (where one
// domain has 3 basophils beside 207 neutrophils), at least 2 per class:
//   domain  basophil eosinophil lymphocyte monocyte neutrophil   (shares of per_class)
//   0        0.40     0.90       0.40       0.45     1            (like acevedo20)
//   1        0.05     0.45       0.20       0.10     1            (like bccd)
//   2        0.05     0.15       0.30       0.30     1            (like zheng18)
//   3        0.10     0.25       0.60       0.20     1
//   4, ...   the profiles above in turn
std::vector<int> synth_class_counts(int index, int per_class, bool balanced);

struct SynthOptions {
  int domains = 3;     // 1..26
  int per_class = 40;  // images per class and domain (balanced), or of the largest class
  bool balanced = true;  // false: classes as imbalanced as real labs' (synth_class_counts)
  int size = 96;       // 32..1024
  uint64_t seed = 0;
  int threads = 0;     // 0: the hardware's
};
struct SynthSummary {
  std::vector<std::string> domains;
  std::vector<std::string> classes;
  int64_t images = 0;
};
// Writes <out>/<domain>/<class>/<class>_NNNN.png for every domain, class and index (existing
// files of the same names are replaced). Throws sadanet::Error on bad options or write errors.
SynthSummary write_synth_dataset(const std::string& out, const SynthOptions& opts);

}  // namespace sadanet::data
