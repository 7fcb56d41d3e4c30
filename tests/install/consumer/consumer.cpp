// An installed sadanet from C++: the version, a tensor op, and a trained model's answer.
#include <cstdio>

#include "sadanet/classifier.h"
#include "sadanet/ops.h"
#include "sadanet/runtime.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  sadanet::Tensor a = sadanet::ones({2, 3});
  const double sum = sadanet::sum(a * 2.0).item();
  const auto clf = sadanet::Classifier::load(argv[1]);
  const auto p = clf.predict(argv[2]);
  std::printf("sadanet %s sum=%g label=%s p=%.4f\n", sadanet::version().c_str(), sum, p.label.c_str(), p.probability);
  return sum == 12.0 ? 0 : 1;
}
