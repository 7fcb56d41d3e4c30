// classify: the label of each image with a model trained by `sadanet train`, through the C++
// facade (sadanet/classifier.h).
//
//   classify MODEL IMAGE...     e.g. classify /tmp/sadanet-demo/sada/synthA/trial0/final.safetensors cell.png
#include <cstdio>
#include <exception>

#include "sadanet/classifier.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL IMAGE...\n", argv[0]);
    return 2;
  }
  try {
    const sadanet::Classifier clf = sadanet::Classifier::load(argv[1]);
    std::printf("%s: %s, %d px, %zu classes\n", argv[1], clf.architecture().c_str(), clf.input_size(),
                clf.classes().size());
    int failed = 0;
    for (int i = 2; i < argc; ++i) {
      try {
        const sadanet::Prediction p = clf.predict(argv[i]);
        std::printf("%s\t%s\t%.4f\n", argv[i], p.label.c_str(), p.probability);
      } catch (const std::exception& e) {  // an unreadable image: say so and go on
        std::fprintf(stderr, "%s\n", e.what());
        ++failed;
      }
    }
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
