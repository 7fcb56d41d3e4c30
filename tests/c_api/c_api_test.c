/* The C API from a C translation unit: every call on a trained model, and every error path with
 * its status and message.  c_api_test MODEL IMAGE NOT_AN_IMAGE */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sadanet/sadanet_c.h"

static int failures = 0;
#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              sadanet_last_error());                                        \
      ++failures;                                                           \
    }                                                                       \
  } while (0)
#define CONTAINS(text, part) CHECK(strstr((text), (part)) != NULL)

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL IMAGE NOT_AN_IMAGE\n", argv[0]);
    return 2;
  }
  const char* model = argv[1];
  const char* image = argv[2];
  const char* not_image = argv[3];

  CHECK(strcmp(sadanet_version(), "") != 0);
  CHECK(strcmp(sadanet_status_name(SADANET_ERROR_IMAGE), "image error") == 0);

  /* Loading: bad arguments, a missing file, a file that is not a model, an unusable device. */
  sadanet_classifier* clf = (sadanet_classifier*)0x1;
  CHECK(sadanet_classifier_load(NULL, "cpu", &clf) == SADANET_ERROR_INVALID_ARGUMENT);
  CHECK(clf == NULL);
  CHECK(sadanet_classifier_load(model, "cpu", NULL) == SADANET_ERROR_INVALID_ARGUMENT);
  CHECK(sadanet_classifier_load("/nonexistent/model.safetensors", "cpu", &clf) == SADANET_ERROR_MODEL);
  CONTAINS(sadanet_last_error(), "/nonexistent/model.safetensors");
  CHECK(sadanet_classifier_load(not_image, NULL, &clf) == SADANET_ERROR_MODEL);
  CHECK(sadanet_classifier_load(model, "gpu", &clf) == SADANET_ERROR_DEVICE);
  CONTAINS(sadanet_last_error(), "gpu");

  CHECK(sadanet_classifier_load(model, NULL, &clf) == SADANET_OK);
  if (!clf) return 1;
  const size_t n = sadanet_classifier_num_classes(clf);
  CHECK(n >= 2);
  CHECK(sadanet_classifier_input_size(clf) >= 32);
  for (size_t i = 0; i < n; ++i) CHECK(sadanet_classifier_class_name(clf, i) != NULL);
  CHECK(sadanet_classifier_class_name(clf, n) == NULL);
  CHECK(sadanet_classifier_num_classes(NULL) == 0);

  /* A file: the top class agrees with the probabilities, which sum to 1. */
  float* probs = (float*)calloc(n, sizeof(float));
  sadanet_result r = {-1, -1.0f};
  CHECK(sadanet_classifier_predict_file(clf, image, &r, probs, n) == SADANET_OK);
  CHECK(r.index >= 0 && (size_t)r.index < n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    sum += probs[i];
    CHECK(probs[i] <= r.probability);
  }
  CHECK(fabs(sum - 1.0) < 1e-5);
  CHECK(probs[r.index] == r.probability);

  /* Errors on predict: a short buffer, NULLs, an unreadable image; the handle stays usable. */
  CHECK(sadanet_classifier_predict_file(clf, image, &r, probs, n - 1) == SADANET_ERROR_INVALID_ARGUMENT);
  CONTAINS(sadanet_last_error(), "one per class");
  CHECK(sadanet_classifier_predict_file(clf, NULL, &r, NULL, 0) == SADANET_ERROR_INVALID_ARGUMENT);
  CHECK(sadanet_classifier_predict_file(NULL, image, &r, NULL, 0) == SADANET_ERROR_INVALID_ARGUMENT);
  CHECK(sadanet_classifier_predict_file(clf, image, NULL, NULL, 0) == SADANET_ERROR_INVALID_ARGUMENT);
  CHECK(sadanet_classifier_predict_file(clf, not_image, &r, NULL, 0) == SADANET_ERROR_IMAGE);
  CONTAINS(sadanet_last_error(), not_image);

  /* RGB pixels with a padded stride; the padding is not read. */
  const int w = 50, h = 41;
  const size_t stride = (size_t)w * 3 + 7;
  unsigned char* px = (unsigned char*)malloc(stride * h);
  for (size_t i = 0; i < stride * h; ++i) px[i] = (unsigned char)(i * 7919u >> 3);
  sadanet_result a, b;
  CHECK(sadanet_classifier_predict_rgb(clf, px, w, h, stride, &a, NULL, 0) == SADANET_OK);
  for (int y = 0; y < h; ++y) memset(px + (size_t)y * stride + (size_t)w * 3, 0xAB, 7);
  CHECK(sadanet_classifier_predict_rgb(clf, px, w, h, stride, &b, NULL, 0) == SADANET_OK);
  CHECK(a.index == b.index && a.probability == b.probability);
  CHECK(sadanet_classifier_predict_rgb(clf, px, w, h, (size_t)w * 3 - 1, &a, NULL, 0) ==
        SADANET_ERROR_INVALID_ARGUMENT);
  CONTAINS(sadanet_last_error(), "stride");
  CHECK(sadanet_classifier_predict_rgb(clf, px, 0, h, 0, &a, NULL, 0) == SADANET_ERROR_INVALID_ARGUMENT);
  CHECK(sadanet_classifier_predict_rgb(clf, NULL, w, h, 0, &a, NULL, 0) == SADANET_ERROR_INVALID_ARGUMENT);

  /* Still working after the errors. */
  sadanet_result again;
  CHECK(sadanet_classifier_predict_file(clf, image, &again, NULL, 0) == SADANET_OK);
  CHECK(again.index == r.index && again.probability == r.probability);

  free(px);
  free(probs);
  sadanet_classifier_free(clf);
  sadanet_classifier_free(NULL);
  if (failures) fprintf(stderr, "c_api_test: %d checks failed\n", failures);
  else printf("c_api_test: every check passed (%zu classes)\n", n);
  return failures ? 1 : 0;
}
