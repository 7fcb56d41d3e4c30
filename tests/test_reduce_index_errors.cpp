// Reductions, softmax, losses and indexing ops: bad dims, shapes, dtypes and out-of-range
// indices give errors that name the op and the offending value.
#include <gtest/gtest.h>

#include "math_error_helpers.h"
#include "sadanet/sadanet.h"

using namespace sadanet;

namespace {

TEST(ReduceErrors, BadDims) {
  Tensor x = ones({2, 3});
  EXPECT_ERROR_MENTIONS(sum(x, {2}), {"sum", "dimension 2", "rank 2"});
  EXPECT_ERROR_MENTIONS(mean(x, {-3}), {"mean", "-3"});
  EXPECT_ERROR_MENTIONS(max(x, {0, -2}), {"max", "more than once"});
  EXPECT_ERROR_MENTIONS(var(x, {5}), {"var", "5"});
  EXPECT_ERROR_MENTIONS(argmax(x, 2), {"argmax", "2"});
  EXPECT_ERROR_MENTIONS(softmax(x, 2), {"softmax", "2"});
  EXPECT_ERROR_MENTIONS(log_softmax(x, -3), {"log_softmax", "-3"});
  EXPECT_ERROR_MENTIONS(normalize(x, 3), {"normalize", "3"});
}

TEST(ReduceErrors, MaxOverEmptyDimension) {
  EXPECT_ERROR_MENTIONS(max(zeros({2, 0}), {1}), {"max", "empty", "[2, 0]"});
  EXPECT_ERROR_MENTIONS(argmax(zeros({0, 3}), 0), {"argmax", "empty"});
}

TEST(ReduceErrors, IntegerInput) {
  EXPECT_ERROR_MENTIONS(sum(ones({2}, TensorOptions(DType::i64))), {"sum", "floating", "i64"});
  EXPECT_ERROR_MENTIONS(softmax(ones({2}, TensorOptions(DType::i32)), 0), {"softmax", "i32"});
}

TEST(LossErrors, TargetShapeAndDtype) {
  Tensor logits = zeros({4, 5});
  EXPECT_ERROR_MENTIONS(cross_entropy(logits, zeros({3}, TensorOptions(DType::i64))),
                        {"cross_entropy", "[4]", "[3]"});
  EXPECT_ERROR_MENTIONS(cross_entropy(logits, zeros({4})), {"cross_entropy", "i64", "f32"});
  EXPECT_ERROR_MENTIONS(nll_loss(logits, zeros({4, 5}, TensorOptions(DType::i64))), {"nll_loss", "[4]", "[4, 5]"});
  EXPECT_ERROR_MENTIONS(nll_loss(zeros({}), zeros({}, TensorOptions(DType::i64))), {"nll_loss", "0-d"});
}

TEST(LossErrors, TargetOutOfRangeNamesTheValue) {
  Tensor logits = zeros({3, 5});
  Tensor t = from_vector<int64_t>({0, 7, 2}, {3});
  EXPECT_ERROR_MENTIONS(cross_entropy(logits, t), {"cross_entropy", "target 7", "5 classes"});
  EXPECT_ERROR_MENTIONS(nll_loss(logits, from_vector<int64_t>({0, -1, 2}, {3})), {"nll_loss", "target -1"});
  // The ignored value is allowed even though it is not a class.
  EXPECT_NO_THROW(nll_loss(logits, from_vector<int64_t>({0, -100, 2}, {3})));
}

TEST(LossErrors, WeightShapeAndDtype) {
  Tensor logits = zeros({3, 5});
  Tensor t = zeros({3}, TensorOptions(DType::i64));
  EXPECT_ERROR_MENTIONS(cross_entropy(logits, t, ones({4})), {"cross_entropy", "weight", "[5]", "[4]"});
  EXPECT_ERROR_MENTIONS(cross_entropy(logits, t, ones({5}, TensorOptions(DType::f64))),
                        {"cross_entropy", "f32", "f64"});
}

TEST(LossErrors, MseShapesAndDtypes) {
  EXPECT_ERROR_MENTIONS(mse_loss(ones({2, 3}), ones({3})), {"mse_loss", "[2, 3]", "[3]"});
  EXPECT_ERROR_MENTIONS(mse_loss(ones({2}), ones({2}, TensorOptions(DType::f64))), {"mse_loss", "f32", "f64"});
}

TEST(IndexErrors, IndexSelect) {
  Tensor x = ones({3, 4});
  Tensor idx = from_vector<int64_t>({0, 9}, {2});
  EXPECT_ERROR_MENTIONS(index_select(x, 1, idx), {"index_select", "index 9", "size 4"});
  EXPECT_ERROR_MENTIONS(index_select(x, 0, from_vector<int64_t>({-1}, {1})), {"index_select", "index -1"});
  EXPECT_ERROR_MENTIONS(index_select(x, 0, zeros({2})), {"index_select", "i64", "f32"});
  EXPECT_ERROR_MENTIONS(index_select(x, 0, zeros({2, 2}, TensorOptions(DType::i64))),
                        {"index_select", "1-D", "[2, 2]"});
  EXPECT_ERROR_MENTIONS(index_select(x, 2, from_vector<int64_t>({0}, {1})), {"index_select", "dimension 2"});
}

TEST(IndexErrors, Gather) {
  Tensor x = ones({3, 4});
  EXPECT_ERROR_MENTIONS(gather(x, 1, from_vector<int64_t>({0, 4, 1}, {3, 1})), {"gather", "index 4", "size 4"});
  EXPECT_ERROR_MENTIONS(gather(x, 1, zeros({3}, TensorOptions(DType::i64))), {"gather", "rank", "[3]"});
  EXPECT_ERROR_MENTIONS(gather(x, 1, zeros({4, 1}, TensorOptions(DType::i64))), {"gather", "exceeds", "4"});
  EXPECT_ERROR_MENTIONS(gather(x, 0, zeros({3, 4}, TensorOptions(DType::i32))), {"gather", "i64", "i32"});
}

TEST(IndexErrors, CatAndStack) {
  EXPECT_ERROR_MENTIONS(cat({}, 0), {"cat", "at least one"});
  EXPECT_ERROR_MENTIONS(cat({ones({2, 3}), ones({2, 4})}, 0), {"cat", "[2, 3]", "[2, 4]"});
  EXPECT_ERROR_MENTIONS(cat({ones({2, 3}), ones({2, 3, 1})}, 0), {"cat", "rank 2", "tensor 1"});
  EXPECT_ERROR_MENTIONS(cat({ones({2}), ones({2}, TensorOptions(DType::f64))}, 0), {"cat", "f32", "f64"});
  EXPECT_ERROR_MENTIONS(cat({ones({2}), ones({2})}, 1), {"cat", "dimension 1"});
  EXPECT_ERROR_MENTIONS(cat({ones({})}, 0), {"cat", "zero-dimensional"});
  EXPECT_ERROR_MENTIONS(stack({ones({2, 3}), ones({3, 2})}, 0), {"stack", "[2, 3]", "[3, 2]"});
  EXPECT_ERROR_MENTIONS(stack({ones({2, 3})}, 3), {"stack", "dimension 3"});
}

}  // namespace
