// Classification metrics for one evaluated split: the confusion matrix, per-class precision,
// recall, F1 and support, F1-micro and F1-macro, as JSON, a text table and a PNG heat map.
//
// Conventions (those of scikit-learn's classification metrics with zero_division=0):
//  - confusion[t][p] counts the images of true class t predicted as p.
//  - precision = TP / (TP + FP), 0 for a class never predicted; recall = TP / (TP + FN), 0 for
//    a class without images; F1 = 2PR / (P + R), 0 when P + R = 0.
//  - F1-micro counts every class, so for single-label predictions it equals the accuracy.
//  - F1-macro is the unweighted mean of F1 over the classes PRESENT in the split (support > 0),
//    listed in macro_over: a class with no image cannot be recalled, and averaging its 0 in
//    would penalise a domain for its missing classes (zheng18 has one basophil, so one of its
//    parts has none). Predictions of an absent class still count as errors of the true class.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sadanet/data/image.h"

namespace sadanet::eval {

struct ClassMetrics {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;    // images of the class (row sum)
  int64_t predicted = 0;  // predictions of the class (column sum)
};

struct Metrics {
  std::vector<std::string> classes;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<ClassMetrics> per_class;
  int64_t total = 0;
  double accuracy = 0;
  double f1_micro = 0;           // == accuracy (single-label)
  double f1_macro = 0;           // over macro_over
  std::vector<int> macro_over;   // class indices with support > 0

  // {"f1_micro", "f1_macro", "accuracy", "total", "per_class": {name: {precision, recall, f1,
  //  support, predicted}}, "confusion": [[...]], "classes": [...], "macro_over": [names]}
  std::string to_json(int indent = 2) const;
  // A fixed-width table: one row per class, then the averages and the confusion matrix.
  std::string table() const;
};

// From true and predicted class ids in [0, classes.size()); throws sadanet::Error on a length
// mismatch or an id out of range.
Metrics compute_metrics(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                        const std::vector<std::string>& classes);
// From a C x C confusion matrix [true][predicted] of non-negative counts.
Metrics metrics_from_confusion(const std::vector<std::vector<int64_t>>& confusion, const std::vector<std::string>& classes);

// The confusion matrix as a heat map: each cell coloured by its share of the true class's images
// (its row), with the count and that share written in it; class names on both axes; the title
// and the F1 scores above. Drawn with a built-in 5x7 bitmap font (printable ASCII).
data::Image render_confusion(const Metrics& m, const std::string& title = "");
void save_confusion_png(const std::string& path, const Metrics& m, const std::string& title = "");

}  // namespace sadanet::eval
