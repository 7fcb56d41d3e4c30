// The C API over sadanet::Classifier: every entry point catches everything, keeps the message in
// a thread-local string and returns a status; nothing unwinds into C.
#include "sadanet/sadanet_c.h"

#include <cstring>
#include <new>
#include <string>

#include "sadanet/classifier.h"
#include "sadanet/error.h"
#include "sadanet/runtime.h"

struct sadanet_classifier {
  sadanet::Classifier clf;
};

namespace {

thread_local std::string g_last_error;

sadanet_status fail(sadanet_status s, const std::string& msg) {
  g_last_error = msg;
  return s;
}

// Runs f, turning exceptions into `what_failed`'s status (out of memory into its own).
template <class F> sadanet_status guarded(sadanet_status what_failed, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(SADANET_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(what_failed, e.what());
  } catch (...) {
    return fail(SADANET_ERROR_INTERNAL, "unknown exception");
  }
}

sadanet_status fill(const sadanet::Prediction& p, sadanet_result* result, float* probabilities, size_t capacity) {
  result->index = static_cast<int32_t>(p.index);
  result->probability = p.probability;
  if (probabilities) std::memcpy(probabilities, p.probabilities.data(), p.probabilities.size() * sizeof(float));
  return SADANET_OK;
}

// The checks both predict calls share; "" when the outputs are usable.
std::string output_problem(const sadanet_classifier* c, const sadanet_result* result, const float* probabilities,
                           size_t capacity) {
  if (!c) return "expected a classifier handle, got NULL";
  if (!result) return "expected a sadanet_result to fill, got NULL";
  const size_t n = c->clf.classes().size();
  if (probabilities && capacity < n)
    return "probabilities holds " + std::to_string(capacity) + " floats; expected at least " + std::to_string(n) +
           " (one per class)";
  return "";
}

}  // namespace

extern "C" {

const char* sadanet_version(void) { return SADANET_VERSION; }

const char* sadanet_last_error(void) { return g_last_error.c_str(); }

const char* sadanet_status_name(sadanet_status status) {
  switch (status) {
    case SADANET_OK: return "ok";
    case SADANET_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case SADANET_ERROR_MODEL: return "model error";
    case SADANET_ERROR_IMAGE: return "image error";
    case SADANET_ERROR_DEVICE: return "device error";
    case SADANET_ERROR_OUT_OF_MEMORY: return "out of memory";
    case SADANET_ERROR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

sadanet_status sadanet_classifier_load(const char* model_path, const char* device, sadanet_classifier** out) {
  if (!out) return fail(SADANET_ERROR_INVALID_ARGUMENT, "sadanet_classifier_load: expected a place for the handle, got NULL");
  *out = nullptr;
  if (!model_path)
    return fail(SADANET_ERROR_INVALID_ARGUMENT, "sadanet_classifier_load: expected a model path, got NULL");
  const std::string dev = device ? device : "cpu";
  sadanet_status s = guarded(SADANET_ERROR_DEVICE, [&] {
    sadanet::require_device(dev, "sadanet_classifier_load");
    return SADANET_OK;
  });
  if (s != SADANET_OK) return s;
  return guarded(SADANET_ERROR_MODEL, [&] {
    sadanet::ClassifierOptions o;
    o.device = dev;
    *out = new sadanet_classifier{sadanet::Classifier::load(model_path, o)};
    return SADANET_OK;
  });
}

void sadanet_classifier_free(sadanet_classifier* classifier) { delete classifier; }

size_t sadanet_classifier_num_classes(const sadanet_classifier* c) { return c ? c->clf.classes().size() : 0; }

const char* sadanet_classifier_class_name(const sadanet_classifier* c, size_t index) {
  if (!c || index >= c->clf.classes().size()) return nullptr;
  return c->clf.classes()[index].c_str();
}

int32_t sadanet_classifier_input_size(const sadanet_classifier* c) { return c ? c->clf.input_size() : 0; }

sadanet_status sadanet_classifier_predict_file(const sadanet_classifier* c, const char* image_path,
                                               sadanet_result* result, float* probabilities, size_t capacity) {
  std::string bad = output_problem(c, result, probabilities, capacity);
  if (bad.empty() && !image_path) bad = "expected an image path, got NULL";
  if (!bad.empty()) return fail(SADANET_ERROR_INVALID_ARGUMENT, "sadanet_classifier_predict_file: " + bad);
  return guarded(SADANET_ERROR_IMAGE, [&] { return fill(c->clf.predict(image_path), result, probabilities, capacity); });
}

sadanet_status sadanet_classifier_predict_rgb(const sadanet_classifier* c, const uint8_t* rgb, int32_t width,
                                              int32_t height, size_t stride, sadanet_result* result,
                                              float* probabilities, size_t capacity) {
  std::string bad = output_problem(c, result, probabilities, capacity);
  if (bad.empty() && !rgb) bad = "expected pixels, got NULL";
  if (bad.empty() && (width < 1 || height < 1))
    bad = "expected a width and height >= 1, got " + std::to_string(width) + "x" + std::to_string(height);
  if (!bad.empty()) return fail(SADANET_ERROR_INVALID_ARGUMENT, "sadanet_classifier_predict_rgb: " + bad);
  return guarded(SADANET_ERROR_INVALID_ARGUMENT,
                 [&] { return fill(c->clf.predict_rgb(rgb, width, height, stride), result, probabilities, capacity); });
}

}  // extern "C"
