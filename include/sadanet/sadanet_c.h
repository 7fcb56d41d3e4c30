/* The C API: a trained classifier behind an opaque handle, for C programs, Python's ctypes, C#'s
 * P/Invoke or a LIS plug-in. Nothing of C++ crosses it: no exceptions, no C++ types; every call
 * returns a status, and on failure sadanet_last_error() says what was expected and what came.
 *
 *   sadanet_classifier* clf = NULL;
 *   if (sadanet_classifier_load("final.safetensors", "cpu", &clf) != SADANET_OK) {
 *     fprintf(stderr, "%s\n", sadanet_last_error());
 *     return 1;
 *   }
 *   sadanet_result r;
 *   if (sadanet_classifier_predict_file(clf, "cell.jpg", &r, NULL, 0) == SADANET_OK)
 *     printf("%s %.3f\n", sadanet_classifier_class_name(clf, r.index), r.probability);
 *   sadanet_classifier_free(clf);
 *
 * Strings returned are UTF-8 and owned by the library: a class name lives as long as its
 * classifier; sadanet_last_error()'s text until the same thread's next failing call. A handle may
 * be used from several threads at once (calls on one handle take turns). */
#ifndef SADANET_C_H
#define SADANET_C_H

#include <stddef.h>
#include <stdint.h>

#include "sadanet/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sadanet_status {
  SADANET_OK = 0,
  SADANET_ERROR_INVALID_ARGUMENT = 1, /* a null pointer, a size out of range, a buffer too small */
  SADANET_ERROR_MODEL = 2,            /* the model file is missing, unreadable or not a model */
  SADANET_ERROR_IMAGE = 3,            /* the image file is missing, unreadable or not JPEG/PNG/BMP */
  SADANET_ERROR_DEVICE = 4,           /* the device cannot be used here (no CUDA build, no GPU) */
  SADANET_ERROR_OUT_OF_MEMORY = 5,
  SADANET_ERROR_INTERNAL = 6          /* anything else; the message says what */
} sadanet_status;

typedef struct sadanet_classifier sadanet_classifier;

/* The most probable class of one image. */
typedef struct sadanet_result {
  int32_t index;     /* class index, 0 .. sadanet_classifier_num_classes() - 1 */
  float probability; /* its softmax probability */
} sadanet_result;

/* "0.1.0": the library's version. */
SADANET_C_API const char* sadanet_version(void);
/* The message of this thread's last failed call ("" when none has failed). */
SADANET_C_API const char* sadanet_last_error(void);
/* A status as a word: "ok", "invalid argument", ... */
SADANET_C_API const char* sadanet_status_name(sadanet_status status);

/* Loads a model file (a run's final.safetensors, a checkpoint, or a torchvision ResNet-50) onto
 * `device` ("cpu", "cuda", "cuda:N"; NULL means "cpu"). On success *out is a new handle. */
SADANET_C_API sadanet_status sadanet_classifier_load(const char* model_path, const char* device,
                                                     sadanet_classifier** out);
/* Frees a handle; NULL is allowed. */
SADANET_C_API void sadanet_classifier_free(sadanet_classifier* classifier);

/* The class count (0 for a NULL handle). */
SADANET_C_API size_t sadanet_classifier_num_classes(const sadanet_classifier* classifier);
/* The name of class `index`, or NULL when the handle is NULL or the index out of range. */
SADANET_C_API const char* sadanet_classifier_class_name(const sadanet_classifier* classifier, size_t index);
/* The model's square input side in pixels (0 for a NULL handle). Images of any size are resized
 * to it. */
SADANET_C_API int32_t sadanet_classifier_input_size(const sadanet_classifier* classifier);

/* Classifies an image file. `result` receives the top class; `probabilities`, when not NULL,
 * receives one probability per class and must hold `capacity` >= num_classes floats. */
SADANET_C_API sadanet_status sadanet_classifier_predict_file(const sadanet_classifier* classifier,
                                                             const char* image_path, sadanet_result* result,
                                                             float* probabilities, size_t capacity);
/* Classifies interleaved 8-bit RGB pixels: `height` rows of `stride` bytes each (stride >= 3 *
 * width; 0 means 3 * width). Outputs as sadanet_classifier_predict_file. */
SADANET_C_API sadanet_status sadanet_classifier_predict_rgb(const sadanet_classifier* classifier,
                                                            const uint8_t* rgb, int32_t width, int32_t height,
                                                            size_t stride, sadanet_result* result,
                                                            float* probabilities, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif /* SADANET_C_H */
