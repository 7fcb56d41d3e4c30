// Synthetic stained white blood cells (see include/sadanet/data/synth.h).
//
// Rendering: two density maps (nuclear stain, eosin) over the image; the background plasma,
// the red cells and then the white cell (cytoplasm, nucleus, granules) are drawn into them with
// anti-aliased signed distances; the maps are blurred, composed by Beer-Lambert with the domain's
// stains, and noise is added. Everything is drawn in the white cell's rotated frame.
#include "sadanet/data/synth.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "sadanet/data/dataset.h"
#include "sadanet/error.h"

namespace sadanet::data {

namespace {

constexpr float kPi = 3.14159265358979f;

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t s = a ^ (b * 0xD6E8FEB86659FD93ull);
  splitmix(s);
  return splitmix(s);
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  float uniform() { return static_cast<float>(splitmix(s) >> 40) * (1.0f / 16777216.0f); }
  float range(float a, float b) { return a + (b - a) * uniform(); }
  int randint(int lo, int hi) { return lo + static_cast<int>(uniform() * static_cast<float>(hi - lo + 1)) % (hi - lo + 1); }
};

float clamp01(float x) { return std::min(1.0f, std::max(0.0f, x)); }
float smoothstep(float a, float b, float x) {
  float t = clamp01((x - a) / (b - a));
  return t * t * (3 - 2 * t);
}
// Coverage of a pixel by a shape from its signed distance (pixels, negative inside).
float coverage(float sd) { return clamp01(0.5f - sd); }
// Polynomial smooth minimum (union with a fillet of size k).
float smin(float a, float b, float k) {
  float h = clamp01(0.5f + 0.5f * (b - a) / k);
  return b + (a - b) * h - k * h * (1 - h);
}

// Value-noise lattice: a hashed value in [0, 1] per integer point.
float lattice(int x, int y, uint64_t seed) {
  uint64_t h = mix(seed, (static_cast<uint64_t>(static_cast<uint32_t>(x)) << 32) | static_cast<uint32_t>(y));
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

// value_noise on a precomputed lattice covering [-extent, extent]^2 (the same values, faster).
class NoiseGrid {
 public:
  NoiseGrid(uint64_t seed, float spacing, float extent) : inv_(1.0f / spacing) {
    half_ = static_cast<int>(std::ceil(extent / spacing)) + 2;
    n_ = 2 * half_ + 1;
    v_.resize(static_cast<size_t>(n_) * n_);
    for (int j = 0; j < n_; ++j)
      for (int i = 0; i < n_; ++i) v_[static_cast<size_t>(j) * n_ + i] = lattice(i - half_, j - half_, seed);
  }
  float at(float x, float y) const {
    x = std::clamp(x * inv_ + half_, 0.0f, n_ - 1.001f);
    y = std::clamp(y * inv_ + half_, 0.0f, n_ - 1.001f);
    int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
    float fx = x - x0, fy = y - y0;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    const float* r0 = &v_[static_cast<size_t>(y0) * n_ + x0];
    const float* r1 = r0 + n_;
    return (r0[0] + (r0[1] - r0[0]) * fx) * (1 - fy) + (r1[0] + (r1[1] - r1[0]) * fx) * fy;
  }

 private:
  float inv_;
  int half_ = 0, n_ = 0;
  std::vector<float> v_;
};

std::array<float, 3> unit(std::array<float, 3> v) {
  float n = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  return {v[0] / n, v[1] / n, v[2] / n};
}

// ---- shapes in the cell's frame ------------------------------------------------------------------

struct Ellipse {
  float cx, cy, rx, ry, c, s;
  Ellipse(float cx_, float cy_, float rx_, float ry_, float angle)
      : cx(cx_), cy(cy_), rx(rx_), ry(ry_), c(std::cos(angle)), s(std::sin(angle)) {}
  float sd(float x, float y) const {
    float dx = x - cx, dy = y - cy;
    float u = c * dx + s * dy, v = -s * dx + c * dy;
    float k = std::sqrt((u / rx) * (u / rx) + (v / ry) * (v / ry));
    return (k - 1) * std::min(rx, ry);
  }
};
struct Capsule {
  float ax, ay, bx, by, r;
  float sd(float x, float y) const {
    float px = x - ax, py = y - ay, vx = bx - ax, vy = by - ay;
    float t = clamp01((px * vx + py * vy) / std::max(1e-6f, vx * vx + vy * vy));
    float dx = px - vx * t, dy = py - vy * t;
    return std::sqrt(dx * dx + dy * dy) - r;
  }
};

struct Nucleus {
  std::vector<Ellipse> lobes;
  std::vector<Capsule> bridges;
  std::vector<Ellipse> notches;  // subtracted
  float k = 2;                   // fillet size, pixels
  float sd(float x, float y) const {
    float d = 1e9f;
    for (const auto& e : lobes) d = smin(d, e.sd(x, y), k);
    for (const auto& c : bridges) d = std::min(d, c.sd(x, y));
    for (const auto& n : notches) d = -smin(-d, n.sd(x, y), k);
    return d;
  }
};

struct Granule {
  float x, y, r, a, b;  // position (image pixels), radius, densities of the two stains
};

struct ClassLook {
  float radius_lo, radius_hi;  // cell radius / size
  float cyto_a, cyto_b;        // cytoplasm densities
  float nuc_a, nuc_b;          // nucleus densities
  float chromatin;             // texture contrast
  float chromatin_scale;       // texture lattice spacing / cell radius
};
// basophil, eosinophil, lymphocyte, monocyte, neutrophil
const ClassLook kLooks[5] = {
    {0.235f, 0.265f, 0.30f, 0.08f, 1.35f, 0.12f, 0.25f, 0.18f},
    {0.260f, 0.290f, 0.10f, 0.30f, 1.30f, 0.10f, 0.30f, 0.16f},
    {0.190f, 0.220f, 0.34f, 0.02f, 1.65f, 0.12f, 0.45f, 0.16f},
    {0.300f, 0.335f, 0.34f, 0.14f, 1.05f, 0.10f, 0.40f, 0.10f},
    {0.255f, 0.285f, 0.06f, 0.20f, 1.45f, 0.12f, 0.30f, 0.20f},
};

Nucleus make_nucleus(int label, float rc, Rng& rng) {
  Nucleus n;
  n.k = 0.08f * rc;
  switch (label) {
    case 2: {  // lymphocyte: big round, slightly eccentric, maybe a small indent
      float r = rc * rng.range(0.74f, 0.84f);
      float off = rc - r - rc * rng.range(0.03f, 0.10f);
      float a = rng.range(0, 2 * kPi);
      n.lobes.push_back({off * std::cos(a), off * std::sin(a), r * rng.range(0.97f, 1.05f), r * rng.range(0.92f, 1.0f),
                         rng.range(0, kPi)});
      if (rng.uniform() < 0.35f) {
        float b = a + kPi + rng.range(-0.5f, 0.5f);
        n.notches.push_back({(off + r * 1.15f) * std::cos(b), (off + r * 1.15f) * std::sin(b), r * 0.35f, r * 0.35f, 0});
      }
      break;
    }
    case 3: {  // monocyte: kidney / horseshoe, folded
      float r = rc * rng.range(0.50f, 0.58f);
      float off = rc * rng.range(0.10f, 0.20f);
      n.lobes.push_back({off, 0, r * rng.range(1.05f, 1.2f), r * rng.range(0.80f, 0.92f), rng.range(-0.3f, 0.3f)});
      // the broad, shallow notch that makes the kidney, on the side facing the cell centre
      float nr = r * rng.range(0.55f, 0.8f);
      float depth = rng.range(0.25f, 0.5f);  // how far the notch bites in, in nucleus radii
      n.notches.push_back({off - r - nr + depth * r, rng.range(-0.2f, 0.2f) * r, nr, nr * rng.range(1.0f, 1.4f), 0});
      // a fold: a second overlapping lobe
      if (rng.uniform() < 0.6f)
        n.lobes.push_back({off + r * 0.3f, r * rng.range(-0.45f, 0.45f), r * 0.6f, r * 0.45f, rng.range(0, kPi)});
      n.k = 0.14f * rc;
      break;
    }
    case 4: {  // neutrophil: 3-5 lobes along a C or S curve, joined by thin strands
      int lobes = rng.randint(3, 5);
      float arc_r = rc * rng.range(0.40f, 0.47f);
      float span = rng.range(1.9f, 2.4f) + 0.3f * (lobes - 3);
      float bend = rng.uniform() < 0.3f ? rng.range(-1.0f, 1.0f) : 0.0f;  // S-shaped when non-zero
      float lr = rc * rng.range(0.24f, 0.28f) * (lobes == 5 ? 0.88f : 1.0f);
      float px = 0, py = 0;
      for (int i = 0; i < lobes; ++i) {
        float f = static_cast<float>(i) / (lobes - 1);
        float t = -span / 2 + span * f + rng.range(-0.1f, 0.1f);
        float rr = arc_r * rng.range(0.9f, 1.08f) * (1 + bend * (f - 0.5f) * 0.6f);
        float x = rr * std::cos(t) - arc_r * 0.45f, y = rr * std::sin(t);
        // long axis radial: the lobes lie side by side, pinched apart
        n.lobes.push_back({x, y, lr * rng.range(1.0f, 1.15f), lr * rng.range(0.68f, 0.85f), t + rng.range(-0.35f, 0.35f)});
        if (i > 0) n.bridges.push_back({px, py, x, y, rc * rng.range(0.035f, 0.05f)});
        px = x;
        py = y;
      }
      n.k = 0.03f * rc;
      break;
    }
    case 1: {  // eosinophil: two lobes (spectacles)
      float lr = rc * rng.range(0.27f, 0.32f);
      float d = rc * rng.range(0.30f, 0.38f);
      float a = rng.range(-0.25f, 0.25f);
      n.lobes.push_back({-d * std::cos(a), -d * std::sin(a) + rc * 0.05f, lr, lr * rng.range(0.8f, 0.95f), rng.range(0, kPi)});
      n.lobes.push_back({d * std::cos(a), d * std::sin(a) + rc * 0.05f, lr * rng.range(0.85f, 1.05f), lr * rng.range(0.8f, 0.95f),
                         rng.range(0, kPi)});
      n.bridges.push_back({-d * 0.6f, rc * 0.1f, d * 0.6f, rc * 0.1f, rc * 0.05f});
      n.k = 0.04f * rc;
      break;
    }
    default: {  // basophil: irregular bilobed, largely hidden under granules
      float lr = rc * rng.range(0.36f, 0.42f);
      n.lobes.push_back({-rc * 0.15f, 0, lr, lr * 0.8f, rng.range(0, kPi)});
      n.lobes.push_back({rc * 0.2f, rc * rng.range(-0.15f, 0.15f), lr * 0.8f, lr * 0.7f, rng.range(0, kPi)});
      n.k = 0.15f * rc;
      break;
    }
  }
  return n;
}

// Separable Gaussian blur of a float map, edges clamped.
void blur(std::vector<float>& m, int S, float sigma) {
  if (sigma < 0.2f) return;
  const int r = std::max(1, static_cast<int>(std::ceil(2.5f * sigma)));
  std::vector<float> k(2 * r + 1);
  float sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[i + r] = std::exp(-0.5f * i * i / (sigma * sigma));
  for (auto& v : k) v /= sum;
  std::vector<float> tmp(m.size());
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      float acc = 0;
      for (int i = -r; i <= r; ++i) acc += k[i + r] * m[y * S + std::clamp(x + i, 0, S - 1)];
      tmp[y * S + x] = acc;
    }
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      float acc = 0;
      for (int i = -r; i <= r; ++i) acc += k[i + r] * tmp[std::clamp(y + i, 0, S - 1) * S + x];
      m[y * S + x] = acc;
    }
}

}  // namespace

std::string synth_domain_name(int index) {
  SADANET_CHECK(index >= 0 && index < 26, "synth: expected a domain index in [0, 25], got ", index);
  return std::string("synth") + static_cast<char>('A' + index);
}

SynthDomain synth_domain(int index, uint64_t seed) {
  struct Preset {
    std::array<float, 3> a, b;
    std::array<float, 2> strength;
    std::array<float, 3> bg;
    float blur, noise, rbc;
  };
  // nuclear stain (azure / methylene blue mixture), eosin, their strengths, background OD, blur, noise, red cells
  static const Preset kPresets[6] = {
      {{0.56f, 0.78f, 0.28f}, {0.07f, 0.80f, 0.60f}, {1.00f, 1.00f}, {0.03f, 0.045f, 0.02f}, 0.55f, 2.0f, 0.42f},
      {{0.78f, 0.60f, 0.18f}, {0.04f, 0.92f, 0.38f}, {1.15f, 0.85f}, {0.12f, 0.10f, 0.05f}, 1.00f, 4.0f, 0.50f},
      {{0.42f, 0.86f, 0.32f}, {0.12f, 0.62f, 0.78f}, {0.85f, 1.20f}, {0.02f, 0.07f, 0.16f}, 0.30f, 1.5f, 0.36f},
      {{0.66f, 0.70f, 0.25f}, {0.10f, 0.75f, 0.65f}, {1.05f, 1.05f}, {0.07f, 0.07f, 0.07f}, 1.30f, 3.0f, 0.45f},
      {{0.50f, 0.70f, 0.50f}, {0.06f, 0.85f, 0.52f}, {0.90f, 0.95f}, {0.01f, 0.02f, 0.03f}, 0.70f, 2.5f, 0.30f},
      {{0.70f, 0.68f, 0.20f}, {0.15f, 0.70f, 0.70f}, {1.25f, 1.10f}, {0.15f, 0.12f, 0.10f}, 0.45f, 5.0f, 0.55f},
  };
  Rng rng(mix(mix(seed, 0x5D0A1Aull), static_cast<uint64_t>(index)));
  Preset p;
  if (index < 6) {
    p = kPresets[index];
  } else {
    p.a = {rng.range(0.40f, 0.80f), rng.range(0.55f, 0.88f), rng.range(0.15f, 0.50f)};
    p.b = {rng.range(0.03f, 0.16f), rng.range(0.60f, 0.93f), rng.range(0.35f, 0.80f)};
    p.strength = {rng.range(0.85f, 1.25f), rng.range(0.85f, 1.2f)};
    p.bg = {rng.range(0.0f, 0.15f), rng.range(0.0f, 0.12f), rng.range(0.0f, 0.16f)};
    p.blur = rng.range(0.3f, 1.3f);
    p.noise = rng.range(1.0f, 5.0f);
    p.rbc = rng.range(0.3f, 0.55f);
  }
  SynthDomain d;
  d.name = synth_domain_name(index);
  for (int c = 0; c < 3; ++c) {  // a seed-dependent nudge of every preset
    p.a[c] = std::max(0.01f, p.a[c] + rng.range(-0.04f, 0.04f));
    p.b[c] = std::max(0.01f, p.b[c] + rng.range(-0.04f, 0.04f));
    p.bg[c] = std::max(0.0f, p.bg[c] + rng.range(-0.01f, 0.01f));
  }
  d.stains = {unit(p.a), unit(p.b)};
  d.strength = {p.strength[0] * rng.range(0.95f, 1.05f), p.strength[1] * rng.range(0.95f, 1.05f)};
  d.background_od = p.bg;
  d.blur_sigma = p.blur;
  d.noise = p.noise;
  d.rbc_density = p.rbc;
  return d;
}

Image synth_cell(const SynthDomain& dom, int label, int size, uint64_t seed) {
  SADANET_CHECK(label >= 0 && label < 5, "synth_cell: expected a label in [0, 4] (", "basophil eosinophil lymphocyte ",
                "monocyte neutrophil), got ", label);
  SADANET_CHECK(size >= 16 && size <= 4096, "synth_cell: expected size in [16, 4096], got ", size);
  const int S = size;
  const float unitpx = S / 96.0f;  // pixel-scale parameters are given at size 96
  Rng rng(seed);
  const ClassLook& look = kLooks[label];
  std::vector<float> ha(static_cast<size_t>(S) * S), hb(ha.size());

  // plasma: faint, with an uneven illumination gradient
  const float plasma_b = rng.range(0.02f, 0.05f);
  const float gx = rng.range(-0.5f, 0.5f), gy = rng.range(-0.5f, 0.5f);
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      ha[y * S + x] = 0.01f;
      hb[y * S + x] = plasma_b * (1.0f + gx * (x / static_cast<float>(S) - 0.5f) + gy * (y / static_cast<float>(S) - 0.5f));
    }

  // the white cell's placement
  const float rc = S * rng.range(look.radius_lo, look.radius_hi);
  const float cx = S * 0.5f + rng.range(-0.07f, 0.07f) * S, cy = S * 0.5f + rng.range(-0.07f, 0.07f) * S;
  const float rot = rng.range(0, 2 * kPi), cr = std::cos(rot), sr = std::sin(rot);

  // red cells around it
  {
    const int want = rng.randint(3, 8);
    std::vector<std::array<float, 3>> placed;
    for (int tries = 0; tries < 60 && static_cast<int>(placed.size()) < want; ++tries) {
      float r = S * rng.range(0.13f, 0.17f);
      float x = rng.range(-0.1f, 1.1f) * S, y = rng.range(-0.1f, 1.1f) * S;
      if (std::hypot(x - cx, y - cy) < rc + 0.75f * r) continue;
      bool clash = false;
      for (const auto& q : placed)
        if (std::hypot(x - q[0], y - q[1]) < 1.55f * std::max(r, q[2])) clash = true;
      if (clash) continue;
      placed.push_back({x, y, r});
      const float squash = rng.range(0.88f, 1.0f), ang = rng.range(0, kPi);
      const float dens = dom.rbc_density * rng.range(0.85f, 1.15f), pallor = rng.range(0.35f, 0.6f);
      Ellipse e{x, y, r, r * squash, ang};
      const int x0 = std::max(0, static_cast<int>(x - r - 2)), x1 = std::min(S - 1, static_cast<int>(x + r + 2));
      const int y0 = std::max(0, static_cast<int>(y - r - 2)), y1 = std::min(S - 1, static_cast<int>(y + r + 2));
      for (int py = y0; py <= y1; ++py)
        for (int px = x0; px <= x1; ++px) {
          float sd = e.sd(px + 0.5f, py + 0.5f);
          float cov = coverage(sd);
          if (cov <= 0) continue;
          float depth = -sd / r;  // 0 at the rim, 1 at the centre
          float profile = 1.0f - pallor * smoothstep(0.35f, 0.9f, depth) + 0.15f * std::exp(-depth * depth * 60.0f);
          hb[py * S + px] += cov * dens * profile;
          ha[py * S + px] += cov * 0.03f;
        }
    }
  }

  // the white cell
  Nucleus nuc = make_nucleus(label, rc, rng);
  float wob[3], pha[3];
  for (int i = 0; i < 3; ++i) {
    wob[i] = rng.range(0.0f, i == 0 ? 0.05f : 0.025f);
    pha[i] = rng.range(0, 2 * kPi);
  }
  const uint64_t tex_seed = splitmix(rng.s), tex_seed2 = splitmix(rng.s);
  const float cyto_a = look.cyto_a * rng.range(0.85f, 1.15f), cyto_b = look.cyto_b * rng.range(0.85f, 1.15f);
  const float nuc_a = look.nuc_a * rng.range(0.9f, 1.1f), nuc_b = look.nuc_b;
  const float tex_spacing = std::max(1.2f, look.chromatin_scale * rc);
  const NoiseGrid mottle(tex_seed2, 0.25f * rc, 1.3f * rc), chrom1(tex_seed, tex_spacing, 1.3f * rc),
      chrom2(tex_seed ^ 0x77ull, 0.45f * tex_spacing, 1.3f * rc);

  // granules (in image coordinates), drawn after the cell body
  std::vector<Granule> granules;
  auto cell_sd_local = [&](float u, float v) {
    float t = std::atan2(v, u);
    float rr = rc * (1 + wob[0] * std::sin(2 * t + pha[0]) + wob[1] * std::sin(3 * t + pha[1]) +
                     wob[2] * std::sin(5 * t + pha[2]));
    return std::sqrt(u * u + v * v) - rr;
  };
  auto to_image = [&](float u, float v, float& x, float& y) {
    x = cx + cr * u - sr * v;
    y = cy + sr * u + cr * v;
  };
  auto sprinkle = [&](int count, float r_lo, float r_hi, float a_lo, float a_hi, float b_lo, float b_hi, bool over_nucleus,
                      float reach) {
    for (int i = 0, tries = 0; i < count && tries < count * 4; ++tries) {
      float rad = rc * reach * std::sqrt(rng.uniform()), ang = rng.range(0, 2 * kPi);
      float u = rad * std::cos(ang), v = rad * std::sin(ang);
      float gr = rng.range(r_lo, r_hi);
      if (cell_sd_local(u, v) > -gr * 0.5f) continue;
      if (!over_nucleus && nuc.sd(u, v) < gr * 0.3f) continue;
      Granule g;
      to_image(u, v, g.x, g.y);
      g.r = gr;
      g.a = rng.range(a_lo, a_hi);
      g.b = rng.range(b_lo, b_hi);
      granules.push_back(g);
      ++i;
    }
  };
  switch (label) {
    case 0:  // basophil: coarse dark purple granules everywhere
      sprinkle(static_cast<int>(110 * rng.range(0.8f, 1.2f)), 0.06f * rc, 0.10f * rc, 1.3f, 2.2f, 0.05f, 0.15f, true, 0.98f);
      break;
    case 1:  // eosinophil: packed large orange-red granules
      sprinkle(static_cast<int>(260 * rng.range(0.85f, 1.15f)), 0.055f * rc, 0.075f * rc, 0.02f, 0.08f, 0.65f, 1.05f, false,
               0.98f);
      break;
    case 4:  // neutrophil: fine faint lilac granules
      sprinkle(static_cast<int>(160 * rng.range(0.8f, 1.2f)), 0.025f * rc, 0.04f * rc, 0.08f, 0.18f, 0.06f, 0.15f, false,
               0.98f);
      break;
    case 3:  // monocyte: a few vacuoles (negative densities: holes in the cytoplasm)
      sprinkle(rng.randint(2, 7), 0.05f * rc, 0.10f * rc, -0.25f, -0.15f, -0.08f, -0.05f, false, 0.9f);
      break;
    default:
      break;
  }

  // body: cytoplasm and nucleus over the background
  const int bx0 = std::max(0, static_cast<int>(cx - rc * 1.2f)), bx1 = std::min(S - 1, static_cast<int>(cx + rc * 1.2f));
  const int by0 = std::max(0, static_cast<int>(cy - rc * 1.2f)), by1 = std::min(S - 1, static_cast<int>(cy + rc * 1.2f));
  for (int py = by0; py <= by1; ++py)
    for (int px = bx0; px <= bx1; ++px) {
      const float dx = px + 0.5f - cx, dy = py + 0.5f - cy;
      const float u = cr * dx + sr * dy, v = -sr * dx + cr * dy;
      const float sdc = cell_sd_local(u, v);
      const float cc = coverage(sdc);
      if (cc <= 0) continue;
      const size_t i = static_cast<size_t>(py) * S + px;
      // cytoplasm: a little denser towards the rim, mottled
      float mott = 0.85f + 0.3f * mottle.at(u, v);
      float rim = 1.0f + 0.25f * smoothstep(-0.25f * rc, 0.0f, sdc);
      float a = cyto_a * mott * rim, b = cyto_b * mott * rim;
      const float sdn = nuc.sd(u, v);
      const float cn = coverage(sdn);
      if (cn > 0) {
        float t = chrom1.at(u, v) * 0.65f + chrom2.at(u, v) * 0.35f;
        float chrom = 1.0f + look.chromatin * (2 * t - 1);
        float membrane = 1.0f + 0.18f * std::exp(-(sdn * sdn) / (2.0f * unitpx * unitpx));
        a = a * (1 - cn) + cn * nuc_a * chrom * membrane;
        b = b * (1 - cn) + cn * nuc_b;
      }
      ha[i] = ha[i] * (1 - cc) + cc * a;
      hb[i] = hb[i] * (1 - cc) + cc * b;
    }
  for (const auto& g : granules) {
    const int x0 = std::max(0, static_cast<int>(g.x - g.r - 1)), x1 = std::min(S - 1, static_cast<int>(g.x + g.r + 1));
    const int y0 = std::max(0, static_cast<int>(g.y - g.r - 1)), y1 = std::min(S - 1, static_cast<int>(g.y + g.r + 1));
    for (int py = y0; py <= y1; ++py)
      for (int px = x0; px <= x1; ++px) {
        float d = std::hypot(px + 0.5f - g.x, py + 0.5f - g.y);
        float w = clamp01(1.0f - d / (g.r + 0.5f));
        w = w * w * (3 - 2 * w);
        const size_t i = static_cast<size_t>(py) * S + px;
        ha[i] = std::max(0.0f, ha[i] + w * g.a);
        hb[i] = std::max(0.0f, hb[i] + w * g.b);
      }
  }

  // optics: blur, Beer-Lambert, noise
  const float sigma = dom.blur_sigma * unitpx * rng.range(0.85f, 1.15f);
  blur(ha, S, sigma);
  blur(hb, S, sigma);
  Image img;
  img.height = img.width = S;
  img.rgb.resize(static_cast<size_t>(S) * S * 3);
  const float gain = rng.range(0.97f, 1.03f);
  float wa[3], wb[3];
  for (int c = 0; c < 3; ++c) {
    wa[c] = dom.stains[0][c] * dom.strength[0];
    wb[c] = dom.stains[1][c] * dom.strength[1];
  }
  for (size_t i = 0; i < ha.size(); ++i) {
    for (int c = 0; c < 3; ++c) {
      float od = wa[c] * ha[i] + wb[c] * hb[i] + dom.background_od[c];
      // approximately normal pixel noise: a sum of four uniforms, unit variance
      float z = (rng.uniform() + rng.uniform() + rng.uniform() + rng.uniform() - 2.0f) * 1.7320508f;
      float v = 255.0f * gain * std::exp(-od) + dom.noise * z;
      img.rgb[i * 3 + c] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
    }
  }
  return img;
}

std::vector<int> synth_class_counts(int index, int per_class, bool balanced) {
  SADANET_CHECK(index >= 0 && per_class >= 1, "synth_class_counts: expected index >= 0 and per_class >= 1, got ", index,
                ", ", per_class);
  if (balanced) return std::vector<int>(default_classes().size(), per_class);
  // basophil, eosinophil, lymphocyte, monocyte, neutrophil
  static constexpr float kProfiles[4][5] = {{0.40f, 0.90f, 0.40f, 0.45f, 1.0f},
                                            {0.05f, 0.45f, 0.20f, 0.10f, 1.0f},
                                            {0.05f, 0.15f, 0.30f, 0.30f, 1.0f},
                                            {0.10f, 0.25f, 0.60f, 0.20f, 1.0f}};
  std::vector<int> counts;
  for (float share : kProfiles[index % 4])
    counts.push_back(std::max(std::min(2, per_class), static_cast<int>(std::lround(share * per_class))));
  return counts;
}

SynthSummary write_synth_dataset(const std::string& out, const SynthOptions& opts) {
  SADANET_CHECK(opts.domains >= 1 && opts.domains <= 26, "synth: expected 1 to 26 domains, got ", opts.domains);
  SADANET_CHECK(opts.per_class >= 1 && opts.per_class <= 100000, "synth: expected 1 to 100000 images per class, got ",
                opts.per_class);
  SADANET_CHECK(opts.size >= 32 && opts.size <= 1024, "synth: expected size in [32, 1024], got ", opts.size);
  SADANET_CHECK(!out.empty(), "synth: expected an output folder");
  const auto& classes = default_classes();
  SynthSummary sum;
  sum.classes = classes;
  std::vector<SynthDomain> doms;
  for (int d = 0; d < opts.domains; ++d) {
    doms.push_back(synth_domain(d, opts.seed));
    sum.domains.push_back(doms.back().name);
    for (const auto& c : classes) {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(out) / doms.back().name / c, ec);
      SADANET_CHECK(!ec, "synth: cannot create ", (std::filesystem::path(out) / doms.back().name / c).string(), ": ",
                    ec.message());
    }
  }
  // Every (domain, class, index) to write, in order; the index keeps the file name and the image
  // seed of the balanced set, so an imbalanced set is a subset of the balanced one.
  struct Job {
    int domain, label, index;
  };
  std::vector<Job> jobs;
  for (int d = 0; d < opts.domains; ++d) {
    const std::vector<int> counts = synth_class_counts(d, opts.per_class, opts.balanced);
    for (int label = 0; label < static_cast<int>(classes.size()); ++label)
      for (int index = 0; index < counts[label]; ++index) jobs.push_back({d, label, index});
  }
  const int64_t total = static_cast<int64_t>(jobs.size());
  int threads = opts.threads > 0 ? opts.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<int64_t>(threads, total));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex err_mu;
  auto work = [&] {
    for (int64_t k = next++; k < total && !failed; k = next++) {
      const auto [d, label, index] = jobs[static_cast<size_t>(k)];
      try {
        const uint64_t s = mix(mix(mix(opts.seed, static_cast<uint64_t>(d) + 1), static_cast<uint64_t>(label) + 11),
                               static_cast<uint64_t>(index) + 101);
        Image img = synth_cell(doms[d], label, opts.size, s);
        char name[64];
        std::snprintf(name, sizeof name, "%s_%04d.png", classes[label].c_str(), index);
        save_png((std::filesystem::path(out) / doms[d].name / classes[label] / name).string(), img);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lk(err_mu);
        if (!failed.exchange(true)) error = e.what();
      }
    }
  };
  std::vector<std::thread> ts;
  for (int t = 1; t < threads; ++t) ts.emplace_back(work);
  work();
  for (auto& t : ts) t.join();
  if (failed) throw Error("synth: " + error);
  sum.images = total;
  return sum;
}

}  // namespace sadanet::data
