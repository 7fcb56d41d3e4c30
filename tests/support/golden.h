// Reading and writing the JSON golden files that tools/golden/gen_op_goldens.py produces.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "sadanet/tensor.h"

namespace sadanet::test {

nlohmann::json tensor_to_json(const Tensor& t);
Tensor tensor_from_json(const nlohmann::json& j);
nlohmann::json load_json(const std::string& path);
std::string golden_path(const std::string& file);  // tests/golden/<file>

// Element-wise |got - want| <= atol + rtol |want|; on failure returns a message naming the worst element.
std::string compare(const Tensor& got, const Tensor& want, double atol, double rtol);

}  // namespace sadanet::test
