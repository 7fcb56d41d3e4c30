/* classify_c: the label of each image with a model trained by `sadanet train`, through the C API
 * (sadanet/sadanet_c.h): what a LIS plug-in, ctypes or P/Invoke would call.
 *
 *   classify_c MODEL IMAGE... */
#include <stdio.h>
#include <stdlib.h>

#include "sadanet/sadanet_c.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL IMAGE...\n", argv[0]);
    return 2;
  }
  sadanet_classifier* clf = NULL;
  if (sadanet_classifier_load(argv[1], "cpu", &clf) != SADANET_OK) {
    fprintf(stderr, "%s\n", sadanet_last_error());
    return 1;
  }
  printf("sadanet %s: %s, %d px, %zu classes\n", sadanet_version(), argv[1], (int)sadanet_classifier_input_size(clf),
         sadanet_classifier_num_classes(clf));
  int failed = 0;
  for (int i = 2; i < argc; ++i) {
    sadanet_result r;
    if (sadanet_classifier_predict_file(clf, argv[i], &r, NULL, 0) == SADANET_OK) {
      printf("%s\t%s\t%.4f\n", argv[i], sadanet_classifier_class_name(clf, (size_t)r.index), r.probability);
    } else {
      fprintf(stderr, "%s\n", sadanet_last_error());
      ++failed;
    }
  }
  sadanet_classifier_free(clf);
  return failed ? 1 : 0;
}
