// The batch loader (see include/sadanet/data/loader.h): a plan that is a pure function of
// (seed, step), carried out by worker threads into a bounded window of in-flight batches.
#include "sadanet/data/loader.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <numeric>
#include <nlohmann/json.hpp>

#include "kernels/philox.h"
#include "sadanet/autograd.h"
#include "sadanet/error.h"
#include "sadanet/ops.h"
#include "sadanet/parse_number.h"

namespace sadanet::data {

namespace {

constexpr uint64_t kPermOffsetBit = uint64_t{1} << 63;
constexpr int kDrawsPerSlot = 64;   // uniforms reserved per image per step
constexpr int kFlipDraw = 48;       // the flip's uniform (the crop uses at most 40)

std::string percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * f);
  return buf;
}

}  // namespace

// ---- transforms ------------------------------------------------------------------------------

CropBox random_resized_crop_box(int height, int width, double scale_min, double scale_max, double ratio_min,
                                double ratio_max, const std::function<double()>& uniform) {
  SADANET_CHECK(height > 0 && width > 0, "random_resized_crop: expected a non-empty image, got ", height, "x", width);
  SADANET_CHECK(scale_min > 0 && scale_min <= scale_max && ratio_min > 0 && ratio_min <= ratio_max,
                "random_resized_crop: expected 0 < scale_min <= scale_max and 0 < ratio_min <= ratio_max, got scale [",
                scale_min, ", ", scale_max, "], ratio [", ratio_min, ", ", ratio_max, "]");
  const double area = static_cast<double>(height) * width;
  const double lr0 = std::log(ratio_min), lr1 = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * (scale_min + (scale_max - scale_min) * uniform());
    const double aspect = std::exp(lr0 + (lr1 - lr0) * uniform());
    const long w = std::lround(std::sqrt(target_area * aspect));
    const long h = std::lround(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      // torch.randint(0, height - h + 1): an integer in [0, height - h]
      int top = static_cast<int>(uniform() * static_cast<double>(height - h + 1));
      int left = static_cast<int>(uniform() * static_cast<double>(width - w + 1));
      top = std::min(top, static_cast<int>(height - h));
      left = std::min(left, static_cast<int>(width - w));
      return CropBox{top, left, static_cast<int>(h), static_cast<int>(w)};
    }
  }
  // Fallback: a centre crop of the whole image, its ratio brought inside [ratio_min, ratio_max].
  const double in_ratio = static_cast<double>(width) / height;
  long w = width, h = height;
  if (in_ratio < ratio_min) {
    h = std::lround(w / ratio_min);
  } else if (in_ratio > ratio_max) {
    w = std::lround(h * ratio_max);
  }
  h = std::clamp<long>(h, 1, height);
  w = std::clamp<long>(w, 1, width);
  return CropBox{static_cast<int>((height - h) / 2), static_cast<int>((width - w) / 2), static_cast<int>(h),
                 static_cast<int>(w)};
}

Image crop(const Image& img, const CropBox& b) {
  SADANET_CHECK(b.top >= 0 && b.left >= 0 && b.height > 0 && b.width > 0 && b.top + b.height <= img.height &&
                    b.left + b.width <= img.width,
                "crop: box (top ", b.top, ", left ", b.left, ", ", b.height, "x", b.width, ") outside the ", img.height,
                "x", img.width, " image");
  if (b.top == 0 && b.left == 0 && b.height == img.height && b.width == img.width) return img;
  Image out;
  out.height = b.height;
  out.width = b.width;
  out.rgb.resize(static_cast<size_t>(b.height) * b.width * 3);
  for (int y = 0; y < b.height; ++y)
    std::memcpy(out.at(y, 0), img.at(b.top + y, b.left), static_cast<size_t>(b.width) * 3);
  return out;
}

void flip_horizontal(Image& img) {
  for (int y = 0; y < img.height; ++y)
    for (int x = 0, z = img.width - 1; x < z; ++x, --z) std::swap_ranges(img.at(y, x), img.at(y, x) + 3, img.at(y, z));
}

Tensor normalize_images(const Tensor& u8, const float mean[3], const float std[3]) {
  SADANET_CHECK(u8.dtype() == DType::u8, "normalize_images: expected a u8 tensor, got ", dtype_name(u8.dtype()));
  SADANET_CHECK(u8.dim() >= 3 && u8.size(-3) == 3, "normalize_images: expected [..., 3, H, W], got ",
                shape_str(u8.shape()));
  NoGradGuard ng;
  if (u8.device().type == DeviceType::cpu) {
    Tensor src = u8.contiguous();
    Tensor out = empty(src.shape());
    const uint8_t* s = src.data<uint8_t>();
    float* d = out.data<float>();
    const int64_t plane = src.size(-1) * src.size(-2);
    const int64_t images = src.numel() / (3 * plane);
    float scale[3], shift[3];
    for (int c = 0; c < 3; ++c) {
      scale[c] = 1.0f / (255.0f * std[c]);
      shift[c] = -mean[c] / std[c];
    }
    for (int64_t n = 0; n < images; ++n)
      for (int c = 0; c < 3; ++c) {
        const int64_t base = (n * 3 + c) * plane;
        for (int64_t i = 0; i < plane; ++i) d[base + i] = s[base + i] * scale[c] + shift[c];
      }
    return out;
  }
  std::vector<float> sc(3), sh(3);
  for (int c = 0; c < 3; ++c) {
    sc[c] = 1.0f / (255.0f * std[c]);
    sh[c] = -mean[c] / std[c];
  }
  Tensor tsc = from_vector(sc, {3, 1, 1}).to(u8.device()), tsh = from_vector(sh, {3, 1, 1}).to(u8.device());
  return add(mul(u8.to(DType::f32), tsc), tsh);
}

// ---- state -----------------------------------------------------------------------------------

std::string LoaderState::to_json() const {
  nlohmann::json j;
  j["format"] = "sadanet-loader-state-v1";
  j["step"] = step;
  j["seed"] = std::to_string(seed);  // as strings: JSON readers may hold numbers as doubles
  j["generator_offset"] = std::to_string(generator_offset);
  j["groups"] = groups;
  j["epoch"] = epoch;
  j["offset"] = offset;
  j["items_hash"] = hex64(items_hash);
  return j.dump();
}

LoaderState LoaderState::from_json(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    SADANET_CHECK(j.at("format") == "sadanet-loader-state-v1", "expected format sadanet-loader-state-v1, got ",
                  j.at("format").dump());
    LoaderState s;
    s.step = j.at("step").get<int64_t>();
    s.seed = parse_u64(j.at("seed").get<std::string>(), "seed");
    s.generator_offset = parse_u64(j.at("generator_offset").get<std::string>(), "generator_offset");
    s.groups = j.at("groups").get<std::vector<int32_t>>();
    s.epoch = j.at("epoch").get<std::vector<int64_t>>();
    s.offset = j.at("offset").get<std::vector<int64_t>>();
    s.items_hash = parse_u64(j.at("items_hash").get<std::string>(), "items_hash", 16);
    return s;
  } catch (const Error& e) {
    throw Error(std::string("loader state: ") + e.what());
  } catch (const std::exception& e) {
    throw Error(std::string("loader state: cannot parse (") + e.what() + ")");
  }
}

namespace {
// The decoder's messages start "image <path>: "; anything else (bad_alloc) gets that prefix.
std::string with_path(const std::string& path, const std::string& why) {
  const std::string head = "image " + path + ":";
  return why.compare(0, head.size(), head) == 0 ? why : head + " " + why;
}
}  // namespace

// ---- the loader ------------------------------------------------------------------------------

struct BatchLoader::Pending {
  int64_t step = 0;
  uint64_t seed = 0;
  int size = 0;
  Batch batch;
  std::vector<int64_t> planned;  // item per slot
  uint8_t* images = nullptr;
  int64_t* labels = nullptr;
  int64_t* domains = nullptr;
  int remaining = 0;
  std::exception_ptr error;
};

BatchLoader::BatchLoader(std::vector<Item> items, const LoaderOptions& opts)
    : opts_(opts), items_(std::move(items)), gen_(opts.seed) {
  SADANET_CHECK(!items_.empty(), "loader: expected at least one image, got an empty item list");
  SADANET_CHECK(opts_.batch >= 1, "loader: expected batch >= 1, got ", opts_.batch);
  SADANET_CHECK(opts_.size >= 1 && opts_.size <= 4096, "loader: expected size in [1, 4096], got ", opts_.size);
  SADANET_CHECK(opts_.resize >= -1 && opts_.resize <= 16384, "loader: expected resize -1, 0 or a side, got ",
                opts_.resize);
  SADANET_CHECK(opts_.threads >= 1 && opts_.threads <= 256, "loader: expected threads in [1, 256], got ", opts_.threads);
  SADANET_CHECK(opts_.prefetch >= 1, "loader: expected prefetch >= 1, got ", opts_.prefetch);
  SADANET_CHECK(opts_.hflip >= 0 && opts_.hflip <= 1, "loader: expected hflip in [0, 1], got ", opts_.hflip);
  SADANET_CHECK(opts_.max_bad_fraction >= 0 && opts_.max_bad_fraction <= 1,
                "loader: expected max_bad_fraction in [0, 1], got ", opts_.max_bad_fraction);
  if (opts_.mode == LoaderMode::train) {
    // checks the crop parameters once, here, rather than in a worker
    random_resized_crop_box(1, 1, opts_.scale_min, opts_.scale_max, opts_.ratio_min, opts_.ratio_max, [] { return 0.5; });
  }
  initial_items_ = static_cast<int64_t>(items_.size());
  if (opts_.validate) validate_all();
  if (opts_.cache && cache_.empty()) cache_.resize(items_.size());

  // groups
  if (opts_.mode == LoaderMode::train && opts_.per_domain) {
    std::map<int32_t, std::vector<int64_t>> by_domain;
    for (size_t i = 0; i < items_.size(); ++i) by_domain[items_[i].domain].push_back(static_cast<int64_t>(i));
    for (auto& [d, v] : by_domain) {
      group_domain_.push_back(d);
      groups_.push_back(std::move(v));
    }
  } else {
    group_domain_.push_back(-1);
    groups_.emplace_back(items_.size());
    std::iota(groups_[0].begin(), groups_[0].end(), int64_t{0});
  }
  uint64_t h = fnv1a64(std::string("sadanet-loader-items-v1 ") + std::to_string(items_.size()) + "\n");
  for (const auto& it : items_)
    h = fnv1a64(it.rel + "\t" + std::to_string(it.label) + "\t" + std::to_string(it.domain) + "\n", h);
  items_hash_ = h;
  start_workers();
}

BatchLoader::~BatchLoader() { stop_workers(); }

void BatchLoader::start_workers() {
  stop_ = false;
  for (int i = 0; i < opts_.threads; ++i) workers_.emplace_back([this] { worker(); });
}

void BatchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

int64_t BatchLoader::batch_images() const {
  return static_cast<int64_t>(opts_.batch) * static_cast<int64_t>(groups_.size());
}

int64_t BatchLoader::steps_per_epoch() const {
  if (opts_.mode == LoaderMode::eval) return (static_cast<int64_t>(items_.size()) + opts_.batch - 1) / opts_.batch;
  size_t largest = 0;
  for (const auto& g : groups_) largest = std::max(largest, g.size());
  return (static_cast<int64_t>(largest) + opts_.batch - 1) / opts_.batch;
}

std::vector<BadImage> BatchLoader::bad_images() const {
  std::lock_guard<std::mutex> lk(mu_);
  auto v = bad_;
  std::sort(v.begin(), v.end(), [](const BadImage& a, const BadImage& b) { return a.path < b.path; });
  return v;
}

std::vector<std::string> BatchLoader::bad_paths() const {
  std::vector<std::string> v;
  for (auto& b : bad_images()) v.push_back(b.path);
  return v;
}

int64_t BatchLoader::bad_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return static_cast<int64_t>(bad_.size());
}

DecodeOptions BatchLoader::decode_options() const {
  DecodeOptions d = opts_.decode;
  const int side = opts_.mode == LoaderMode::eval ? opts_.size : (opts_.resize < 0 ? opts_.size : opts_.resize);
  d.hint_height = d.hint_width = side;  // 0 (train, no first resize): full size
  return d;
}

std::shared_ptr<const Image> BatchLoader::base_image(int64_t item) {
  if (opts_.cache) {
    std::lock_guard<std::mutex> lk(cache_mu_);
    if (cache_[item]) return cache_[item];
  }
  Image img = load_image(items_[item].path, decode_options());
  if (opts_.mode == LoaderMode::eval) {
    img = resize_bilinear(img, opts_.size, opts_.size);
  } else {
    const int r = opts_.resize < 0 ? opts_.size : opts_.resize;
    if (r > 0) img = resize_bilinear(img, r, r);
  }
  auto p = std::make_shared<const Image>(std::move(img));
  if (opts_.cache) {
    std::lock_guard<std::mutex> lk(cache_mu_);
    if (!cache_[item]) cache_[item] = p;
  }
  return p;
}

void BatchLoader::validate_all() {
  const int64_t n = static_cast<int64_t>(items_.size());
  std::vector<std::string> why(n);
  std::vector<char> bad(n, 0);
  if (opts_.cache) cache_.assign(n, nullptr);
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        if (opts_.cache) base_image(i);  // decoded, resized and kept
        else load_image(items_[i].path, decode_options());
      } catch (const std::exception& e) {
        bad[i] = 1;
        why[i] = e.what();
      }
    }
  };
  std::vector<std::thread> ts;
  const int nt = static_cast<int>(std::min<int64_t>(opts_.threads, n));
  for (int t = 1; t < nt; ++t) ts.emplace_back(work);
  work();
  for (auto& t : ts) t.join();

  std::vector<Item> keep;
  std::vector<std::shared_ptr<const Image>> keep_cache;
  std::vector<std::string> reasons;
  for (int64_t i = 0; i < n; ++i) {
    if (bad[i]) {
      bad_.push_back({items_[i].path, with_path(items_[i].path, why[i])});
      reasons.push_back(why[i]);
    } else {
      keep.push_back(std::move(items_[i]));
      if (opts_.cache) keep_cache.push_back(std::move(cache_[i]));
    }
  }
  items_ = std::move(keep);
  if (opts_.cache) cache_ = std::move(keep_cache);
  const auto nbad = static_cast<int64_t>(bad_.size());
  if (nbad > static_cast<int64_t>(std::floor(opts_.max_bad_fraction * static_cast<double>(initial_items_))) ||
      items_.empty()) {
    std::string list;
    for (size_t i = 0; i < reasons.size() && i < 5; ++i) list += "\n  " + reasons[i];
    if (reasons.size() > 5) list += "\n  ... and " + std::to_string(reasons.size() - 5) + " more";
    throw Error("loader: " + std::to_string(nbad) + " of " + std::to_string(initial_items_) + " images (" +
                percent(static_cast<double>(nbad) / static_cast<double>(initial_items_)) +
                ") cannot be decoded, more than max_bad_fraction " + percent(opts_.max_bad_fraction) + ":" + list);
  }
}

void BatchLoader::check_bad_fraction() const {
  const auto nbad = static_cast<int64_t>(bad_.size());
  if (nbad > static_cast<int64_t>(std::floor(opts_.max_bad_fraction * static_cast<double>(initial_items_)))) {
    std::vector<std::string> v;
    for (const auto& b : bad_) v.push_back(b.path);
    std::sort(v.begin(), v.end());
    std::string list;
    for (size_t i = 0; i < v.size() && i < 5; ++i) list += (i ? ", " : "") + v[i];
    if (v.size() > 5) list += " and " + std::to_string(v.size() - 5) + " more";
    throw Error("loader: " + std::to_string(nbad) + " of " + std::to_string(initial_items_) + " images (" +
                percent(static_cast<double>(nbad) / static_cast<double>(initial_items_)) +
                ") cannot be decoded, more than max_bad_fraction " + percent(opts_.max_bad_fraction) + ": " + list);
  }
}

void BatchLoader::mark_bad(int64_t item, const std::string& why) {
  if (bad_items_.insert(item).second) bad_.push_back({items_[item].path, with_path(items_[item].path, why)});
}

const std::vector<int32_t>& BatchLoader::permutation(size_t group, int64_t epoch) {
  auto key = std::make_pair(group, epoch);
  auto it = perms_.find(key);
  if (it != perms_.end()) return it->second;
  const size_t n = groups_[group].size();
  const uint64_t seed = gen_.seed();
  const uint64_t off = kPermOffsetBit | (static_cast<uint64_t>(group) << 40) | static_cast<uint64_t>(epoch);
  std::vector<uint32_t> keys(n);
  for (size_t i = 0; i < n; ++i) keys[i] = philox::bits(seed, off, i);
  std::vector<int32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return keys[a] < keys[b]; });
  // forget the epochs no step at or after the consumer's can reach
  for (auto e = perms_.begin(); e != perms_.end();) {
    const int64_t ng = static_cast<int64_t>(groups_[e->first.first].size());
    if (e->first.second < consumed_ * opts_.batch / ng) e = perms_.erase(e);
    else ++e;
  }
  return perms_.emplace(key, std::move(perm)).first->second;
}

std::shared_ptr<BatchLoader::Pending> BatchLoader::plan(int64_t step) {
  auto p = std::make_shared<Pending>();
  p->step = step;
  p->seed = gen_.seed();
  p->size = opts_.size;
  const int64_t B = opts_.batch;
  if (opts_.mode == LoaderMode::eval) {
    const int64_t n = static_cast<int64_t>(items_.size());
    for (int64_t i = step * B; i < std::min(n, (step + 1) * B); ++i) p->planned.push_back(i);
  } else {
    for (size_t g = 0; g < groups_.size(); ++g) {
      const int64_t ng = static_cast<int64_t>(groups_[g].size());
      for (int64_t j = 0; j < B; ++j) {
        const int64_t k = step * B + j;
        p->planned.push_back(groups_[g][permutation(g, k / ng)[k % ng]]);
      }
    }
  }
  const int64_t count = static_cast<int64_t>(p->planned.size());
  p->batch.step = step;
  p->batch.images = empty({count, 3, opts_.size, opts_.size}, TensorOptions(DType::u8));
  p->batch.labels = empty({count}, TensorOptions(DType::i64));
  p->batch.domains = empty({count}, TensorOptions(DType::i64));
  p->batch.items.assign(count, -1);
  p->images = p->batch.images.data<uint8_t>();
  p->labels = p->batch.labels.data<int64_t>();
  p->domains = p->batch.domains.data<int64_t>();
  p->remaining = static_cast<int>(count);
  return p;
}

void BatchLoader::process(Pending& p, int slot) {
  // The planned image, or when it cannot be decoded the next good one of its group.
  int64_t item = p.planned[slot];
  std::shared_ptr<const Image> base;
  {
    const size_t g = opts_.mode == LoaderMode::train && opts_.per_domain
                         ? static_cast<size_t>(std::find(group_domain_.begin(), group_domain_.end(),
                                                         items_[item].domain) - group_domain_.begin())
                         : 0;
    const auto& members = groups_[g];
    size_t pos = static_cast<size_t>(std::lower_bound(members.begin(), members.end(), item) - members.begin());
    for (size_t tries = 0; tries < members.size(); ++tries) {
      item = members[(pos + tries) % members.size()];
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (bad_items_.count(item)) continue;
      }
      try {
        base = base_image(item);
        break;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lk(mu_);
        mark_bad(item, e.what());
        check_bad_fraction();
      }
    }
    SADANET_CHECK(base, "loader: no image of ", (group_domain_[g] >= 0 ? "domain " + std::to_string(group_domain_[g])
                                                                      : std::string("the item list")),
                  " can be decoded");
  }

  const Image* out = base.get();
  Image work;
  const int S = p.size;
  if (opts_.mode == LoaderMode::train) {
    uint64_t k = static_cast<uint64_t>(slot) * kDrawsPerSlot;
    const uint64_t seed = p.seed, off = static_cast<uint64_t>(p.step);
    auto uniform = [&] { return static_cast<double>(philox::uniform(seed, off, k++)); };
    CropBox box = random_resized_crop_box(base->height, base->width, opts_.scale_min, opts_.scale_max,
                                          opts_.ratio_min, opts_.ratio_max, uniform);
    const bool flip = philox::uniform(seed, off, static_cast<uint64_t>(slot) * kDrawsPerSlot + kFlipDraw) < opts_.hflip;
    work = resize_bilinear(crop(*base, box), S, S);
    if (flip) flip_horizontal(work);
    out = &work;
  } else if (base->height != S || base->width != S) {
    work = resize_bilinear(*base, S, S);
    out = &work;
  }
  const size_t plane = static_cast<size_t>(S) * S;
  uint8_t* dst = p.images + static_cast<size_t>(slot) * 3 * plane;
  const uint8_t* src = out->rgb.data();
  for (size_t i = 0; i < plane; ++i) {
    dst[i] = src[3 * i];
    dst[plane + i] = src[3 * i + 1];
    dst[2 * plane + i] = src[3 * i + 2];
  }
  p.labels[slot] = items_[item].label;
  p.domains[slot] = items_[item].domain;
  p.batch.items[slot] = item;
}

void BatchLoader::worker() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    const int64_t total = opts_.mode == LoaderMode::eval ? steps_per_epoch() : INT64_MAX;
    work_cv_.wait(lk, [&] { return stop_ || sched_step_ < std::min(total, consumed_ + opts_.prefetch); });
    if (stop_) return;
    std::shared_ptr<Pending> p;
    auto it = pending_.find(sched_step_);
    if (it == pending_.end()) {
      try {
        p = plan(sched_step_);
      } catch (...) {
        p = std::make_shared<Pending>();
        p->step = sched_step_;
        p->error = std::current_exception();
      }
      pending_[sched_step_] = p;
    } else {
      p = it->second;
    }
    if (p->remaining == 0) {  // nothing to decode (an error, or an empty batch)
      ++sched_step_;
      sched_slot_ = 0;
      ready_cv_.notify_all();
      continue;
    }
    const int slot = sched_slot_++;
    if (sched_slot_ >= static_cast<int>(p->planned.size())) {
      ++sched_step_;
      sched_slot_ = 0;
    }
    const uint64_t gen = generation_;
    lk.unlock();
    std::exception_ptr err;
    try {
      process(*p, slot);
    } catch (...) {
      err = std::current_exception();
    }
    lk.lock();
    if (gen != generation_) continue;  // restored meanwhile: this batch is no longer wanted
    if (err && !p->error) p->error = err;
    if (--p->remaining == 0) ready_cv_.notify_all();
  }
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lk(mu_);
  if (opts_.mode == LoaderMode::eval && consumed_ >= steps_per_epoch()) return std::nullopt;
  const int64_t want = consumed_;
  ready_cv_.wait(lk, [&] {
    auto it = pending_.find(want);
    return stop_ || (it != pending_.end() && it->second->remaining == 0);
  });
  SADANET_CHECK(!stop_, "loader: stopped");
  auto p = pending_[want];
  pending_.erase(want);
  ++consumed_;
  gen_.set_state(gen_.seed(), static_cast<uint64_t>(consumed_));
  lk.unlock();
  work_cv_.notify_all();
  if (p->error) std::rethrow_exception(p->error);
  return std::move(p->batch);
}

LoaderState BatchLoader::state() const {
  std::lock_guard<std::mutex> lk(mu_);
  LoaderState s;
  s.step = consumed_;
  s.seed = gen_.seed();
  s.generator_offset = gen_.offset();
  s.groups = group_domain_;
  for (const auto& g : groups_) {
    const int64_t ng = static_cast<int64_t>(g.size());
    const int64_t k = consumed_ * opts_.batch;
    s.epoch.push_back(k / ng);
    s.offset.push_back(k % ng);
  }
  s.items_hash = items_hash_;
  return s;
}

void BatchLoader::restore(const LoaderState& s) {
  SADANET_CHECK(s.groups == group_domain_, "loader restore: the state's domain groups differ from this loader's");
  SADANET_CHECK(s.items_hash == items_hash_, "loader restore: the state was saved over a different item list (digest ",
                hex64(s.items_hash), ", this loader's ", hex64(items_hash_),
                "): the split, the dataset or its unreadable files changed");
  SADANET_CHECK(s.step >= 0 && s.generator_offset == static_cast<uint64_t>(s.step),
                "loader restore: inconsistent state (step ", s.step, ", generator offset ", s.generator_offset, ")");
  SADANET_CHECK(s.epoch.size() == groups_.size() && s.offset.size() == groups_.size(),
                "loader restore: expected ", groups_.size(), " epoch/offset entries");
  for (size_t g = 0; g < groups_.size(); ++g) {
    const int64_t ng = static_cast<int64_t>(groups_[g].size());
    const int64_t k = s.step * opts_.batch;
    SADANET_CHECK(s.epoch[g] == k / ng && s.offset[g] == k % ng, "loader restore: inconsistent state for group ", g,
                  " (epoch ", s.epoch[g], ", offset ", s.offset[g], " at step ", s.step, ", batch ", opts_.batch, ")");
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++generation_;
    pending_.clear();
    perms_.clear();
    consumed_ = sched_step_ = s.step;
    sched_slot_ = 0;
    gen_.set_state(s.seed, s.generator_offset);
  }
  work_cv_.notify_all();
}

void BatchLoader::reset() {
  LoaderState s = state();
  s.step = 0;
  s.generator_offset = 0;
  for (size_t g = 0; g < s.epoch.size(); ++g) s.epoch[g] = s.offset[g] = 0;
  restore(s);
}

}  // namespace sadanet::data
