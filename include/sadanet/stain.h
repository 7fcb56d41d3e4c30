// SADA stain augmentation (Li et al., "Stain-aware Domain Alignment for Imbalance Blood Cell
// Classification"): every training image is re-stained with the stain colours of other labs.
//
//   1. decompose()     per image: optical density V = -ln(max(X,1)/255) (Beer-Lambert), factored
//                      V ~ W H with two stains (sparse NMF in the manner of Vahadane et al. 2016).
//   2. kmeans()        over the stain matrices of the whole mini-batch (6-vectors: W's columns).
//   3. stain_augment() per image and per other cluster: take the stains W_t of a random image t
//                      of that cluster, rescale the densities by P99(H_t)/P99(H_i) (Eq. 2) and
//                      render x* = 255 exp(-W_t Norm(H_i, H_t)) (Eq. 3).
//
// Data layout (the CUDA version mirrors it): the batch is u8 NCHW; steps 1 and 3 are independent
// per image (one thread per image here, one block per image on a GPU); step 2 is one small
// k-means over N points. All per-pixel math is f32; the W fit's sufficient statistics, the
// k-means and the percentiles' ranks use f64. Nothing depends on the thread count; the per-pixel
// loops run as AVX2+FMA code where the CPU has it, which changes results in the last float bits.
//
// Degenerate images: fewer than 64 (or 0.5%) stained pixels (blank, uniform, black), stained
// pixels of one colour (sqrt(e2/e1) of their OD second moment < 0.02), and for the paper variant
// stains < 3 degrees apart or a stain with P99 density < 0.02 (reference_code: both < 0.02).
//
// ---- the two variants ---------------------------------------------------------------------------
//                        StainVariant::paper (default)           StainVariant::reference_code
//  optical density       -ln(max(X,1)/255)                       the code's: max(-ln(max(X/255, 1e-6)),
//                                                                1e-6), pixels with all channels <= 12
//                                                                (its "< 0.05") -> white
//  background            pixels within 0.2 OD of the image's     no mask; a per-channel background OD
//                        background colour (mean OD of its       B = 1% quantile of each channel,
//                        brightest 5%) or with OD sum < 0.15     V = OD - B, added back on output
//                        are left out of the W fit; no B term
//  W start               Giemsa (Ruifrok & Johnston / ImageJ     per channel: 50% and 100% quantiles
//                        "Giemsa"): methylene blue                of the OD, columns normalised
//                        (0.8348, 0.5136, 0.1963), eosin
//                        (0.0928, 0.9541, 0.2831)
//  fit pixels            <= 1024 stained pixels (every s-th)     all pixels
//  algorithm             alternating: exact per-pixel H          10 multiplicative updates (W, then
//                        (closed-form 2-variable non-negative    H with the L1 step
//                        lasso), exact W column update           H <- max(H (W'V - lambda)/(W'W H), 0)),
//                        projected on the non-negative unit      H starts at 1
//                        sphere; then the same with relaxed H
//                        (lasso support, unpenalised values)
//                        to remove the lasso's bias on W; each
//                        phase <= 50 rounds (SQUAREM-
//                        accelerated), stopping when no entry
//                        of W moves more than 1e-5
//  lambda                0.1 for the fit; the final H is a       1e-4, H from the last update
//                        relaxed lasso: lambda_h = 0.01 picks
//                        each pixel's stains, then the picked
//                        ones are refitted without penalty
//  stain order           stain 0 has the smaller blue OD         none: column 0 comes from the
//                        (purple nuclear stain: azure,           median, column 1 from the max
//                        methylene blue), stain 1 the eosin      quantile (as the authors' code)
//  clustered features    W (6)                                    W and B (9)
//  k-means               k-means++ (Philox), 5 restarts          same (the code uses random points
//                                                                as initial centroids)
//  Eq. 2 ratio           (P99_t+1e-6)/(P99_i+1e-6) clamped to    (P99_t+1e-6)/(P99_i+1e-6), unclamped
//                        [0.25, 4]
//  output                255 exp(-W_t H')                        255 exp(-max(W_t H' + B_t, 1e-6)),
//                                                                then ColorJitter(brightness 0.2,
//                                                                contrast 0.25, saturation 0.25,
//                                                                hue 0.15), torchvision's rules
// Both variants flag degenerate images (blank, black, one colour, a missing stain); those are left
// out of the clustering, never used as targets, and their views are copies of the original.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sadanet/random.h"
#include "sadanet/tensor.h"

namespace sadanet::stain {

enum class StainVariant : uint8_t { paper, reference_code };
const char* variant_name(StainVariant v);               // "paper", "reference-code"
StainVariant variant_from_name(const std::string& name);  // also accepts "reference_code"; throws otherwise

// The fixed start of the paper variant's fit: Giemsa's two dyes as unit optical-density colours
// (R, G, B), from Ruifrok & Johnston's colour deconvolution (ImageJ / scikit-image "Giemsa").
inline constexpr std::array<float, 3> kMethyleneBlueOD = {0.834750233f, 0.513556283f, 0.196330403f};
inline constexpr std::array<float, 3> kEosinOD = {0.092789f, 0.954111f, 0.283111f};

struct StainOptions {
  StainVariant variant = StainVariant::paper;
  float lambda = 0.1f;            // L1 weight on H while fitting W (reference_code: 1e-4)
  float lambda_h = 0.01f;         // paper: L1 weight that selects each pixel's stains in the final H
  int iterations = 50;            // paper: at most this many (H, W) rounds per phase; reference_code: exactly 10
  float tolerance = 1e-5f;        // paper: stop when no entry of W moves more than this
  // A pixel is stained (paper: fitted; both: counted for the checks below) when it is not black
  // (all channels <= 12), its OD sum is >= min_od_sum, and its OD is >= background_distance
  // (Euclidean) from the image's background colour: the mean OD of the brightest
  // background_fraction of its pixels (estimated on every 4th pixel). The bright field's colour
  // differs by lab (white, peach, yellow, grey), hence a threshold relative to it.
  float min_od_sum = 0.15f;
  float background_distance = 0.2f;
  float background_fraction = 0.05f;
  int max_fit_pixels = 1024;      // paper: W is fitted on at most this many stained pixels (every s-th)
  float background_quantile = 0.01f;  // reference_code: B = this quantile of each channel's OD
  // Degenerate images (flagged, never a target):
  int min_stained_pixels = 64;          // fewer stained pixels than this, or than this fraction:
  float min_stained_fraction = 0.005f;
  float min_rank_ratio = 0.02f;     // sqrt(e2/e1) of the stained pixels' OD second moment (one colour)
  float min_stain_angle_deg = 3.0f;  // paper: the two fitted stains closer than this are one colour
  float min_p99 = 0.02f;            // a stain whose density P99 is below this is absent

  static StainOptions paper() { return {}; }
  static StainOptions reference_code();
};

// Everything about one image's stains except the per-pixel densities.
struct StainInfo {
  // 3 x 2, column-major: W[3*j + c] is the optical density of stain j in channel c (R, G, B);
  // unit columns (reference_code: a column can be all zero on a blank image). This is also the
  // 6-vector that is clustered.
  std::array<float, 6> W{};
  std::array<float, 3> B{};    // background OD per channel (reference_code; zeros for paper)
  std::array<float, 2> p99{};  // 99th percentile of each stain's density over all pixels
  bool degenerate = false;
  std::string reason;          // why it is degenerate; empty otherwise
  float stained_fraction = 0;  // pixels that count as stained (see StainOptions)
  float rank_ratio = 0;        // sqrt(e2/e1) of the stained pixels' OD second moment
  float stain_angle_deg = 0;   // angle between the two stain vectors
  int fit_pixels = 0;          // pixels the W fit used
  int iterations = 0;          // rounds the W fit ran
  float w(int channel, int stain) const { return W[3 * stain + channel]; }
};

struct StainResult : StainInfo {
  int height = 0, width = 0;
  // 2 x n row-major (n = height * width, pixel p = y * width + x): H[j * n + p] is the density of
  // stain j at p. Every pixel has one, background included.
  std::vector<float> H;
};

// Decomposes one 8-bit RGB image (row-major HWC). Never throws on image content: bad images come
// back finite with degenerate = true and a reason. Throws sadanet::Error on bad sizes.
StainResult decompose(const uint8_t* rgb_hwc, int height, int width, const StainOptions& opt = {});
// The same for a planar CHW image (what stain_augment uses).
StainResult decompose_chw(const uint8_t* rgb_chw, int height, int width, const StainOptions& opt = {});

// Eq. 2 and 3: the source's densities re-rendered with the target's stains. ratio[j] =
// (P99_t,j + 1e-6) / (P99_s,j + 1e-6) clamped to [ratio_min, ratio_max]; OD = W_t (ratio * H_s)
// (+ B_t for reference_code), x* = round(clamp(255 exp(-OD), 0, 255)). Output is HWC.
struct RestainOptions {
  float ratio_min = 0.25f, ratio_max = 4.0f;
  bool add_background = false;  // reference_code: add the target's B
};
std::vector<uint8_t> restain(const StainResult& source, const StainInfo& target, const RestainOptions& opt = {});

// ---- k-means -------------------------------------------------------------------------------------
struct KMeansResult {
  int dim = 0;
  int k = 0;                      // clusters found: min(k asked, distinct points); 0 for no points
  std::vector<int> labels;        // per point, in [0, k); numbered by first appearance (point 0 is in 0)
  std::vector<float> centroids;   // k x dim, row-major
  double inertia = 0;             // sum of squared distances to the assigned centroid
  int iterations = 0;             // Lloyd iterations of the kept restart
  int restart = 0;                // which restart was kept
};
// k-means++ seeding from Philox(seed, offset = restart), Lloyd iterations until no label changes
// (at most max_iter), `restarts` runs keeping the lowest inertia (ties: the earlier run). k-means++
// draws new centres only among points at a positive distance from the chosen ones, so k shrinks
// to the number of distinct points. An emptied cluster takes the point farthest from its centroid
// (lowest index on ties). f64 throughout; a non-finite coordinate counts as 0.
KMeansResult kmeans(const float* points, int n, int dim, int k, uint64_t seed, int restarts = 5, int max_iter = 100);
KMeansResult kmeans(const std::vector<std::array<float, 6>>& points, int k, uint64_t seed, int restarts = 5);

// ---- the batch pipeline --------------------------------------------------------------------------
// torchvision.transforms.ColorJitter(brightness, contrast, saturation, hue): factors drawn
// uniformly from [1-b, 1+b], [1-c, 1+c], [1-s, 1+s], [-h, h], applied in a random order.
struct ColorJitter {
  float brightness = 0.2f, contrast = 0.25f, saturation = 0.25f, hue = 0.15f;
};

struct StainAugmentOptions {
  int k = 3;              // clusters; every image gets k-1 re-stained views
  int restarts = 5;       // k-means restarts
  int max_kmeans_iter = 100;
  StainOptions stain;     // the variant lives here
  RestainOptions restain;
  bool color_jitter = false;  // reference_code: true
  ColorJitter jitter;
  static StainAugmentOptions for_variant(StainVariant v);
};

struct AugmentedBatch {
  // u8 [N*k, 3, H, W], NCHW. Rows 0..N-1 are the originals (unchanged); row N + i*(k-1) + m is
  // image i's m-th view, its target clusters taken in increasing order skipping i's own.
  Tensor images;
  int n = 0, k = 0;
  // Per output row (N*k): the source image, the image whose stains were used, that image's
  // cluster, and whether the target came from a fallback (see below). Originals: source = target
  // = i, target_cluster = cluster[i], fallback = 0.
  std::vector<int> source, target, target_cluster;
  std::vector<uint8_t> fallback;
  // Per input image (N): its cluster (-1 when degenerate) and its stains.
  std::vector<int> cluster;
  std::vector<StainInfo> stains;
  KMeansResult clustering;   // over the non-degenerate images only, in input order
  std::vector<int> clustered;  // clustering's points -> input image index
  double decompose_ms = 0, cluster_ms = 0, restain_ms = 0;  // wall time of the three steps
};

// images_u8: u8 [N, 3, H, W] (NCHW, RGB) on the CPU. Each call takes one offset from gen (targets,
// k-means seed and jitter all derive from (gen.seed(), that offset)), so a seed reproduces a batch.
// Targets: image i's view for cluster j uses a uniformly drawn image of cluster j (never a
// degenerate one). Fallbacks (fallback = 1): a cluster that does not exist (fewer distinct stain
// matrices than k) is replaced by a random image of any other cluster, else by any other
// non-degenerate image, else by i itself; a degenerate source's views are copies of the original
// (target = i, target_cluster = -1).
AugmentedBatch stain_augment(const Tensor& images_u8, const StainAugmentOptions& opt, Generator& gen);
// The same into `out`, whose images tensor is reused (overwritten) when it already has the right
// shape: a training loop that keeps one AugmentedBatch saves the page faults of a fresh tensor.
void stain_augment(const Tensor& images_u8, const StainAugmentOptions& opt, Generator& gen, AugmentedBatch& out);

}  // namespace sadanet::stain
