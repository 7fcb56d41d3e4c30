/* An installed sadanet from C: the C API only. */
#include <stdio.h>

#include "sadanet/sadanet_c.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  sadanet_classifier* clf = NULL;
  if (sadanet_classifier_load(argv[1], "cpu", &clf) != SADANET_OK) {
    fprintf(stderr, "%s\n", sadanet_last_error());
    return 1;
  }
  sadanet_result r;
  if (sadanet_classifier_predict_file(clf, argv[2], &r, NULL, 0) != SADANET_OK) {
    fprintf(stderr, "%s\n", sadanet_last_error());
    return 1;
  }
  printf("sadanet %s label=%s p=%.4f\n", sadanet_version(), sadanet_classifier_class_name(clf, (size_t)r.index),
         r.probability);
  sadanet_classifier_free(clf);
  return 0;
}
