// The batch loader: reproducible for a seed whatever the thread count, bit-exact resume from a
// saved state, shapes and labels, the transforms, and RandomResizedCrop's bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "data_fixtures.h"
#include "sadanet/data/dataset.h"
#include "sadanet/data/loader.h"
#include "sadanet/error.h"

using namespace sadanet;
using namespace sadanet::data;
using sadanet::test::ScratchDir;

namespace {

// Two domains, three classes each, images of assorted sizes whose pixels carry their item tag.
struct Fixture {
  ScratchDir dir;
  Dataset ds;
  explicit Fixture(uint64_t seed, int per_class_a = 5, int per_class_b = 4) {
    std::mt19937_64 rng(seed);
    int tag = 1;
    for (const char* d : {"labA", "labB"})
      for (const char* c : {"basophil", "lymphocyte", "neutrophil"}) {
        const int n = std::string(d) == "labA" ? per_class_a : per_class_b;
        for (int i = 0; i < n; ++i) {
          const int h = 12 + static_cast<int>(rng() % 20), w = 12 + static_cast<int>(rng() % 20);
          test::write_image(dir / (std::string(d) + "/" + c + "/" + std::to_string(i) + ".png"), test::tagged_image(h, w, tag++));
        }
      }
    ds = scan_dataset(dir.path());
  }
};

LoaderOptions train_options(uint64_t seed, int threads, int prefetch) {
  LoaderOptions o;
  o.batch = 4;
  o.size = 16;
  o.seed = seed;
  o.threads = threads;
  o.prefetch = prefetch;
  return o;
}

std::string fingerprint(const Batch& b) {
  std::string s;
  auto img = b.images.to_vector<uint8_t>();
  s.assign(img.begin(), img.end());
  for (auto v : b.labels.to_vector<int64_t>()) s += "|" + std::to_string(v);
  for (auto v : b.domains.to_vector<int64_t>()) s += "/" + std::to_string(v);
  for (auto v : b.items) s += "#" + std::to_string(v);
  return s;
}

std::vector<std::string> take(BatchLoader& l, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(fingerprint(*l.next()));
  return out;
}

}  // namespace

TEST(Loader, BatchesHaveTheRightShapesDtypesAndLabels) {
  Fixture fx(test::fresh_seed("loader fixture"));
  BatchLoader l(fx.ds.items, train_options(3, 2, 2));
  EXPECT_EQ(l.group_domains(), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(l.batch_images(), 8);
  EXPECT_EQ(l.steps_per_epoch(), 4);  // 15 images in labA, 4 per step
  for (int step = 0; step < 5; ++step) {
    Batch b = *l.next();
    EXPECT_EQ(b.step, step);
    EXPECT_EQ(b.images.dtype(), DType::u8);
    EXPECT_EQ(b.images.shape(), (Shape{8, 3, 16, 16}));
    EXPECT_EQ(b.labels.dtype(), DType::i64);
    EXPECT_EQ(b.labels.shape(), (Shape{8}));
    EXPECT_EQ(b.domains.dtype(), DType::i64);
    EXPECT_EQ(b.domains.shape(), (Shape{8}));
    ASSERT_EQ(b.items.size(), 8u);
    auto labels = b.labels.to_vector<int64_t>(), domains = b.domains.to_vector<int64_t>();
    auto px = b.images.to_vector<uint8_t>();
    for (int j = 0; j < 8; ++j) {
      const Item& it = l.items()[b.items[j]];
      EXPECT_EQ(domains[j], j < 4 ? 0 : 1) << "the batch holds each domain's block in order";
      EXPECT_EQ(it.domain, domains[j]);
      EXPECT_EQ(it.label, labels[j]);
      // every pixel of a tagged image has the same R and G: the image is the item's
      const int tag = px[(j * 3 + 0) * 256] | (px[(j * 3 + 1) * 256] << 8);
      auto expect_tag = load_image(it.path).rgb;
      EXPECT_EQ(tag, expect_tag[0] | (expect_tag[1] << 8));
    }
  }
}

TEST(Loader, SameSeedSameBatchesWhateverTheThreadsAndPrefetch) {
  const uint64_t seed = test::fresh_seed("loader seed");
  Fixture fx(seed);
  BatchLoader a(fx.ds.items, train_options(seed, 1, 1));
  BatchLoader b(fx.ds.items, train_options(seed, 4, 6));
  auto ba = take(a, 9), bb = take(b, 9);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(ba[i], bb[i]) << "step " << i;
  BatchLoader c(fx.ds.items, train_options(seed + 1, 2, 3));
  auto bc = take(c, 9);
  int same = 0;
  for (int i = 0; i < 9; ++i) same += ba[i] == bc[i];
  EXPECT_LT(same, 2) << "another seed should give other batches";
}

TEST(Loader, EachEpochVisitsEveryImageOfADomainOnce) {
  Fixture fx(test::fresh_seed("loader epochs"), 4, 4);  // 12 images per domain, batch 4: 3 steps an epoch
  BatchLoader l(fx.ds.items, train_options(11, 2, 2));
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::map<int64_t, int> seen;
    std::vector<int64_t> order;
    for (int s = 0; s < 3; ++s) {
      Batch b = *l.next();
      for (auto it : b.items) {
        ++seen[it];
        order.push_back(it);
      }
    }
    EXPECT_EQ(seen.size(), 24u);
    for (auto& [it, n] : seen) EXPECT_EQ(n, 1) << "item " << it << " in epoch " << epoch;
  }
}

TEST(Loader, ResumingFromASavedStateGivesTheSameNextBatches) {
  const uint64_t seed = test::fresh_seed("loader resume");
  Fixture fx(seed);
  BatchLoader a(fx.ds.items, train_options(seed, 2, 3));
  take(a, 5);
  const LoaderState saved = a.state();
  EXPECT_EQ(saved.step, 5);
  EXPECT_EQ(saved.generator_offset, 5u);
  EXPECT_EQ(saved.seed, seed);
  EXPECT_EQ(saved.epoch, (std::vector<int64_t>{1, 1}));   // 20 images taken of 15 (labA) and 12 (labB)
  EXPECT_EQ(saved.offset, (std::vector<int64_t>{5, 8}));
  const std::string json = saved.to_json();
  auto expected = take(a, 7);

  // a fresh loader (other threads, other seed in its options: the state's seed wins)
  BatchLoader b(fx.ds.items, train_options(seed + 99, 3, 1));
  take(b, 2);
  b.restore(LoaderState::from_json(json));
  EXPECT_EQ(b.state().step, 5);
  EXPECT_EQ(take(b, 7), expected);
  // the same loader, rewound
  a.restore(saved);
  EXPECT_EQ(take(a, 7), expected);
  // a state from another item list is refused
  std::vector<Item> fewer(fx.ds.items.begin(), fx.ds.items.end() - 1);
  BatchLoader c(fewer, train_options(seed, 1, 1));
  EXPECT_THROW(c.restore(saved), Error);
  LoaderState bad = saved;
  bad.offset[0] += 1;
  EXPECT_THROW(a.restore(bad), Error);
  EXPECT_THROW(LoaderState::from_json("{\"format\": \"something\"}"), Error);
  EXPECT_THROW(LoaderState::from_json("not json"), Error);
}

TEST(Loader, EvalModeGoesThroughTheItemsOnceInOrder) {
  Fixture fx(test::fresh_seed("loader eval"));
  LoaderOptions o;
  o.mode = LoaderMode::eval;
  o.batch = 7;
  o.size = 10;
  o.threads = 3;
  BatchLoader l(fx.ds.items, o);
  EXPECT_EQ(l.steps_per_epoch(), 4);  // 27 images
  for (int pass = 0; pass < 2; ++pass) {
    int64_t next_item = 0;
    int steps = 0;
    while (auto b = l.next()) {
      ++steps;
      const int64_t n = b->labels.numel();
      EXPECT_EQ(n, steps < 4 ? 7 : 6);
      auto px = b->images.to_vector<uint8_t>();
      for (int64_t j = 0; j < n; ++j) {
        EXPECT_EQ(b->items[j], next_item);
        // the eval transform is a plain resize to size x size
        Image want = resize_bilinear(load_image(fx.ds.items[next_item].path), 10, 10);
        for (int c = 0; c < 3; ++c)
          for (int i = 0; i < 100; ++i) ASSERT_EQ(px[(j * 3 + c) * 100 + i], want.rgb[i * 3 + c]);
        ++next_item;
      }
    }
    EXPECT_EQ(next_item, 27);
    EXPECT_FALSE(l.next().has_value());
    l.reset();
  }
}

TEST(Loader, FlipAndCropTransformsAreTheDocumentedOnes) {
  ScratchDir dir;
  Image img = test::tagged_image(12, 12, 5);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 12; ++x) img.at(y, x)[0] = static_cast<uint8_t>(y * 12 + x);
  test::write_image(dir / "d/basophil/a.png", img);
  Dataset ds = scan_dataset(dir.path());
  LoaderOptions o;
  o.batch = 1;
  o.size = 12;
  o.resize = 0;
  o.scale_min = o.scale_max = 1.0;  // the whole image...
  o.ratio_min = o.ratio_max = 1.0;  // ...of its own ratio: no crop at all
  for (double flip : {0.0, 1.0}) {
    o.hflip = flip;
    BatchLoader l(ds.items, o);
    auto px = l.next()->images.to_vector<uint8_t>();
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 12; ++x)
        ASSERT_EQ(px[y * 12 + x], img.at(y, flip > 0 ? 11 - x : x)[0]) << "flip " << flip << " at " << y << "," << x;
  }
  // with p = 0.5, both happen over a few steps
  o.hflip = 0.5;
  BatchLoader l(ds.items, o);
  int flipped = 0;
  for (int s = 0; s < 40; ++s) flipped += l.next()->images.to_vector<uint8_t>()[0] == img.at(0, 11)[0];
  EXPECT_GT(flipped, 5);
  EXPECT_LT(flipped, 35);
}

TEST(Loader, RandomResizedCropFollowsTorchvision) {
  // scale 0.7 + 0.3 * 0.5 = 0.85 of 100x100, ratio exp(0) = 1: 92x92 (round(sqrt(8500))),
  // top = floor(0.25 * 9), left = floor(0.75 * 9)
  std::vector<double> u = {0.5, 0.5, 0.25, 0.75};
  size_t k = 0;
  CropBox b = random_resized_crop_box(100, 100, 0.7, 1.0, 3.0 / 4, 4.0 / 3, [&] { return u[k++]; });
  EXPECT_EQ(k, 4u);
  EXPECT_EQ(b.height, 92);
  EXPECT_EQ(b.width, 92);
  EXPECT_EQ(b.top, 2);
  EXPECT_EQ(b.left, 6);
  // every attempt too wide (scale ~1, ratio ~4/3 on a square): ten attempts, then the whole image
  k = 0;
  b = random_resized_crop_box(50, 50, 0.7, 1.0, 3.0 / 4, 4.0 / 3, [&] { ++k; return 0.999999; });
  EXPECT_EQ(k, 20u);
  EXPECT_EQ(b.top, 0);
  EXPECT_EQ(b.left, 0);
  EXPECT_EQ(b.height, 50);
  EXPECT_EQ(b.width, 50);
  // the fallback on a thin image brings the ratio to the nearest allowed one, centred
  b = random_resized_crop_box(100, 10, 0.7, 1.0, 3.0 / 4, 4.0 / 3, [] { return 0.999999; });
  EXPECT_EQ(b.width, 10);
  EXPECT_EQ(b.height, 13);  // round(10 / 0.75)
  EXPECT_EQ(b.top, (100 - 13) / 2);
  b = random_resized_crop_box(10, 100, 0.7, 1.0, 3.0 / 4, 4.0 / 3, [] { return 0.999999; });
  EXPECT_EQ(b.height, 10);
  EXPECT_EQ(b.width, 13);  // round(10 * 4/3)
  EXPECT_EQ(b.left, (100 - 13) / 2);
}

TEST(Loader, RandomResizedCropStaysInsideTheImage) {
  std::mt19937_64 rng(test::fresh_seed("crop bounds"));
  std::uniform_real_distribution<double> U(0.0, 1.0);
  for (int trial = 0; trial < 20000; ++trial) {
    const int h = 1 + static_cast<int>(rng() % (trial % 4 == 0 ? 4 : 400));
    const int w = 1 + static_cast<int>(rng() % (trial % 3 == 0 ? 4 : 400));
    const double s0 = 0.05 + 0.95 * U(rng), s1 = s0 + (1.0 - s0) * U(rng);
    const double r0 = 0.2 + 1.5 * U(rng), r1 = r0 * (1.0 + 3.0 * U(rng));
    int draws = 0;
    // uniforms in [0, 1), including values right at the ends
    auto draw = [&] {
      ++draws;
      switch (rng() % 8) {
        case 0: return 0.0;
        case 1: return std::nextafter(1.0, 0.0);
        default: return U(rng);
      }
    };
    CropBox b = random_resized_crop_box(h, w, s0, s1, r0, r1, draw);
    ASSERT_GE(b.top, 0);
    ASSERT_GE(b.left, 0);
    ASSERT_GE(b.height, 1);
    ASSERT_GE(b.width, 1);
    ASSERT_LE(b.top + b.height, h) << h << "x" << w;
    ASSERT_LE(b.left + b.width, w) << h << "x" << w;
    ASSERT_LE(draws, 40);
  }
  EXPECT_THROW(random_resized_crop_box(0, 5, 0.7, 1, 0.75, 1.33, [] { return 0.5; }), Error);
  EXPECT_THROW(random_resized_crop_box(5, 5, 0.9, 0.7, 0.75, 1.33, [] { return 0.5; }), Error);
}

TEST(Loader, NormalizeImagesUsesImageNetStatistics) {
  std::mt19937_64 rng(test::fresh_seed("normalize"));
  std::vector<uint8_t> v(2 * 3 * 4 * 5);
  for (auto& x : v) x = static_cast<uint8_t>(rng() & 255);
  Tensor u8 = from_vector(v, {2, 3, 4, 5}, TensorOptions(DType::u8));
  Tensor f = normalize_images(u8);
  EXPECT_EQ(f.dtype(), DType::f32);
  EXPECT_EQ(f.shape(), u8.shape());
  auto out = f.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) {
    const int c = static_cast<int>((i / 20) % 3);
    EXPECT_NEAR(out[i], (v[i] / 255.0f - kImageNetMean[c]) / kImageNetStd[c], 1e-5f);
  }
  EXPECT_THROW(normalize_images(zeros({2, 3, 4, 5})), Error);
  EXPECT_THROW(normalize_images(zeros({2, 4, 4, 5}, TensorOptions(DType::u8))), Error);
}

TEST(Loader, AnImageThatFailsLaterIsReplacedByTheNextGoodOne) {
  Fixture fx(test::fresh_seed("loader bad"), 4, 4);
  // break one file after scanning, and skip the up-front check
  const Item victim = fx.ds.items[5];
  test::write_file(victim.path, "garbage");
  LoaderOptions o = train_options(1, 2, 2);
  o.validate = false;
  o.max_bad_fraction = 0.5;
  BatchLoader l(fx.ds.items, o);
  for (int s = 0; s < 6; ++s) {  // two epochs: the broken file is planned at least twice
    Batch b = *l.next();
    auto labels = b.labels.to_vector<int64_t>();
    for (size_t j = 0; j < b.items.size(); ++j) {
      EXPECT_NE(l.items()[b.items[j]].path, victim.path);
      EXPECT_EQ(l.items()[b.items[j]].label, labels[j]);
    }
  }
  EXPECT_EQ(l.bad_count(), 1);
  EXPECT_EQ(l.bad_paths(), std::vector<std::string>{victim.path});
  // beyond the allowed fraction the batch that meets it throws
  o.max_bad_fraction = 0.0;
  BatchLoader strict(fx.ds.items, o);
  bool threw = false;
  for (int s = 0; s < 6 && !threw; ++s) {
    try {
      strict.next();
    } catch (const Error& e) {
      threw = true;
      EXPECT_NE(std::string(e.what()).find("1 of 24"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(threw);
}

TEST(Loader, StopsCleanlyWithBatchesInFlight) {
  Fixture fx(test::fresh_seed("loader shutdown"));
  for (int i = 0; i < 5; ++i) {
    BatchLoader l(fx.ds.items, train_options(i, 3, 8));
    if (i % 2) l.next();
  }
  LoaderOptions bad = train_options(0, 0, 1);
  EXPECT_THROW(BatchLoader(fx.ds.items, bad), Error);
  EXPECT_THROW(BatchLoader({}, train_options(0, 1, 1)), Error);
}
