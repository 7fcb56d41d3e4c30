// Element-wise ops refuse bad input with a message that names the op and the offending shapes
// or dtypes, instead of broadcasting wrongly or promoting silently.
#include <gtest/gtest.h>

#include "math_error_helpers.h"
#include "sadanet/sadanet.h"

using namespace sadanet;

namespace {

TEST(ElementwiseErrors, NonBroadcastableShapes) {
  Tensor a = ones({2, 3}), b = ones({4, 3});
  EXPECT_ERROR_MENTIONS(add(a, b), {"add", "[2, 3]", "[4, 3]"});
  EXPECT_ERROR_MENTIONS(sub(a, b), {"sub", "[2, 3]", "[4, 3]"});
  EXPECT_ERROR_MENTIONS(mul(a, ones({3, 2})), {"mul", "[2, 3]", "[3, 2]"});
  EXPECT_ERROR_MENTIONS(div(a, ones({2})), {"div", "[2, 3]", "[2]"});
  EXPECT_ERROR_MENTIONS(maximum(a, ones({2, 2, 2})), {"maximum", "[2, 3]", "[2, 2, 2]"});
  EXPECT_ERROR_MENTIONS(minimum(a, b), {"minimum"});
  EXPECT_ERROR_MENTIONS(gt(a, b), {"gt", "[2, 3]", "[4, 3]"});
  EXPECT_ERROR_MENTIONS(eq(a, b), {"eq", "[2, 3]", "[4, 3]"});
}

TEST(ElementwiseErrors, MixedDtypesAreRefused) {
  Tensor f = ones({2, 3}), d = ones({2, 3}, TensorOptions(DType::f64));
  EXPECT_ERROR_MENTIONS(add(f, d), {"add", "f32", "f64"});
  EXPECT_ERROR_MENTIONS(mul(d, f), {"mul", "f64", "f32"});
  EXPECT_ERROR_MENTIONS(maximum(f, d), {"maximum", "f32", "f64"});
  EXPECT_ERROR_MENTIONS(eq(f, ones({2, 3}, TensorOptions(DType::i64))), {"eq", "f32", "i64"});
}

TEST(ElementwiseErrors, IntegerTensorsInArithmetic) {
  Tensor i = ones({2, 2}, TensorOptions(DType::i64));
  EXPECT_ERROR_MENTIONS(add(i, i), {"add", "floating", "i64"});
  EXPECT_ERROR_MENTIONS(exp(i), {"exp", "floating", "i64"});
  EXPECT_ERROR_MENTIONS(relu(i), {"relu", "i64"});
  EXPECT_ERROR_MENTIONS(mul(i, 2.0), {"mul", "i64"});
}

TEST(ElementwiseErrors, UndefinedInputs) {
  EXPECT_ERROR_MENTIONS(add(Tensor(), ones({2})), {"add", "undefined"});
  EXPECT_ERROR_MENTIONS(neg(Tensor()), {"neg", "undefined"});
}

TEST(ElementwiseErrors, ClampNeedsABound) {
  EXPECT_ERROR_MENTIONS(clamp(ones({2}), std::nullopt, std::nullopt), {"clamp", "at least one"});
}

TEST(ElementwiseErrors, SumToIncompatibleShape) {
  EXPECT_ERROR_MENTIONS(sum_to(ones({2, 3}), {2}), {"sum_to", "[2, 3]", "[2]"});
  EXPECT_ERROR_MENTIONS(sum_to(ones({3}), {2, 3}), {"sum_to", "[3]", "[2, 3]"});
}

TEST(ElementwiseErrors, IntegerComparisonsWork) {
  // Not an error: accuracy is eq(argmax(logits, 1), labels) on i64 tensors.
  Tensor a = from_vector<int64_t>({1, 2, 3}, {3}), b = from_vector<int64_t>({1, 0, 3}, {3});
  EXPECT_EQ(eq(a, b).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(gt(a, 1.5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1}));
}

}  // namespace
