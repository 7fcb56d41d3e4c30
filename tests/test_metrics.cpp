// Classification metrics against a hand-computed example with an absent class and a class never
// predicted, the JSON and text forms, and the confusion-matrix image.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "data_fixtures.h"
#include "sadanet/data/image.h"
#include "sadanet/error.h"
#include "sadanet/eval/metrics.h"

using namespace sadanet;
using namespace sadanet::eval;

namespace {
const std::vector<std::string> kClasses = {"alpha", "beta", "gamma", "delta"};

// truth: alpha x4, beta x2, delta x2; gamma is absent but predicted once; delta is never predicted.
//            predicted: alpha beta gamma delta
//   alpha               3     1    0     0
//   beta                0     1    1     0
//   gamma               0     0    0     0
//   delta               1     1    0     0
Metrics example() {
  std::vector<int64_t> truth = {0, 0, 0, 0, 1, 1, 3, 3};
  std::vector<int64_t> pred = {0, 0, 0, 1, 1, 2, 0, 1};
  return compute_metrics(truth, pred, kClasses);
}
}  // namespace

TEST(Metrics, MatchAHandComputedConfusionMatrix) {
  Metrics m = example();
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{3, 1, 0, 0}, {0, 1, 1, 0}, {0, 0, 0, 0}, {1, 1, 0, 0}}));
  EXPECT_EQ(m.total, 8);
  // alpha: P 3/4, R 3/4
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 0.75);
  EXPECT_DOUBLE_EQ(m.per_class[0].recall, 0.75);
  EXPECT_DOUBLE_EQ(m.per_class[0].f1, 0.75);
  EXPECT_EQ(m.per_class[0].support, 4);
  EXPECT_EQ(m.per_class[0].predicted, 4);
  // beta: P 1/3, R 1/2, F1 2 (1/6) / (5/6) = 0.4
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.per_class[1].recall, 0.5);
  EXPECT_NEAR(m.per_class[1].f1, 0.4, 1e-12);
  // gamma: absent (support 0), predicted once: precision 0, recall 0 by convention, F1 0
  EXPECT_EQ(m.per_class[2].support, 0);
  EXPECT_EQ(m.per_class[2].predicted, 1);
  EXPECT_EQ(m.per_class[2].precision, 0.0);
  EXPECT_EQ(m.per_class[2].recall, 0.0);
  EXPECT_EQ(m.per_class[2].f1, 0.0);
  // delta: never predicted: precision 0 (zero_division=0), recall 0
  EXPECT_EQ(m.per_class[3].predicted, 0);
  EXPECT_EQ(m.per_class[3].precision, 0.0);
  EXPECT_EQ(m.per_class[3].recall, 0.0);
  EXPECT_EQ(m.per_class[3].f1, 0.0);
  // micro = accuracy = 4/8; macro over the present classes alpha, beta, delta
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m.f1_micro, 0.5);
  EXPECT_EQ(m.macro_over, (std::vector<int>{0, 1, 3}));
  EXPECT_NEAR(m.f1_macro, (0.75 + 0.4 + 0.0) / 3, 1e-12);
  // the same from the matrix
  Metrics again = metrics_from_confusion(m.confusion, kClasses);
  EXPECT_EQ(again.f1_macro, m.f1_macro);
  EXPECT_EQ(again.macro_over, m.macro_over);
}

TEST(Metrics, JsonAndTableCarryEverything) {
  Metrics m = example();
  auto j = nlohmann::json::parse(m.to_json());
  EXPECT_DOUBLE_EQ(j["f1_micro"].get<double>(), 0.5);
  EXPECT_NEAR(j["f1_macro"].get<double>(), 1.15 / 3, 1e-12);
  EXPECT_EQ(j["classes"], nlohmann::json(kClasses));
  EXPECT_EQ(j["macro_over"], nlohmann::json(std::vector<std::string>{"alpha", "beta", "delta"}));
  EXPECT_EQ(j["confusion"][3], nlohmann::json(std::vector<int>{1, 1, 0, 0}));
  EXPECT_NEAR(j["per_class"]["beta"]["precision"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_EQ(j["per_class"]["gamma"]["support"].get<int>(), 0);
  EXPECT_EQ(j["per_class"]["delta"]["f1"].get<double>(), 0.0);
  for (const char* k : {"precision", "recall", "f1", "support"}) EXPECT_TRUE(j["per_class"]["alpha"].contains(k));
  const std::string t = m.table();
  EXPECT_NE(t.find("gamma"), std::string::npos);
  EXPECT_NE(t.find("absent"), std::string::npos);
  EXPECT_NE(t.find("0.3833"), std::string::npos) << t;
  EXPECT_NE(t.find("0.4000"), std::string::npos) << t;
}

TEST(Metrics, AgreeWithACountOnRandomLabels) {
  std::mt19937_64 rng(test::fresh_seed("metrics"));
  for (int trial = 0; trial < 20; ++trial) {
    const int C = 2 + static_cast<int>(rng() % 6);
    const int n = static_cast<int>(rng() % 200);
    std::vector<std::string> names;
    for (int c = 0; c < C; ++c) names.push_back("c" + std::to_string(c));
    std::vector<int64_t> t(n), p(n);
    for (int i = 0; i < n; ++i) {
      t[i] = static_cast<int64_t>(rng() % (C - 1));  // the last class is always absent
      p[i] = rng() % 3 ? t[i] : static_cast<int64_t>(rng() % C);
    }
    Metrics m = compute_metrics(t, p, names);
    int64_t correct = 0;
    for (int i = 0; i < n; ++i) correct += t[i] == p[i];
    EXPECT_EQ(m.total, n);
    EXPECT_DOUBLE_EQ(m.f1_micro, n ? static_cast<double>(correct) / n : 0.0);
    double sum = 0;
    int present = 0;
    for (int c = 0; c < C; ++c) {
      int64_t tp = 0, sup = 0, pr = 0;
      for (int i = 0; i < n; ++i) {
        tp += t[i] == c && p[i] == c;
        sup += t[i] == c;
        pr += p[i] == c;
      }
      const double P = pr ? double(tp) / pr : 0, R = sup ? double(tp) / sup : 0;
      const double F = P + R > 0 ? 2 * P * R / (P + R) : 0;
      EXPECT_NEAR(m.per_class[c].f1, F, 1e-12);
      if (sup) {
        sum += F;
        ++present;
      }
    }
    EXPECT_NEAR(m.f1_macro, present ? sum / present : 0.0, 1e-12);
    EXPECT_EQ(static_cast<int>(m.macro_over.size()), present);
  }
}

TEST(Metrics, RejectBadInput) {
  EXPECT_THROW(compute_metrics({0, 1}, {0}, kClasses), Error);
  EXPECT_THROW(compute_metrics({0, 4}, {0, 0}, kClasses), Error);
  EXPECT_THROW(compute_metrics({0}, {-1}, kClasses), Error);
  EXPECT_THROW(metrics_from_confusion({{1, 2}, {3}}, {"a", "b"}), Error);
  EXPECT_THROW(metrics_from_confusion({{1, -2}, {3, 4}}, {"a", "b"}), Error);
  Metrics empty = compute_metrics({}, {}, kClasses);
  EXPECT_EQ(empty.f1_macro, 0.0);
  EXPECT_TRUE(empty.macro_over.empty());
}

TEST(Metrics, ConfusionImageIsDrawnAndSaved) {
  Metrics m = example();
  data::Image img = render_confusion(m, "target labB");
  EXPECT_GT(img.width, 4 * 64);
  EXPECT_GT(img.height, 4 * 64);
  // the cell of the largest share is dark blue, an empty cell of a present class nearly white
  int64_t dark = 0, white = 0;
  for (size_t i = 0; i < img.rgb.size(); i += 3) {
    dark += img.rgb[i] < 60 && img.rgb[i + 2] > 90;
    white += img.rgb[i] > 240 && img.rgb[i + 1] > 240 && img.rgb[i + 2] > 240;
  }
  EXPECT_GT(dark, 500);
  EXPECT_GT(white, img.width * img.height / 4);
  test::ScratchDir dir;
  save_confusion_png(dir / "cm.png", m, "target labB");
  data::Image back = data::load_image(dir / "cm.png");
  EXPECT_EQ(back.width, img.width);
  EXPECT_EQ(back.rgb, img.rgb);
}
