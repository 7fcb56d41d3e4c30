// The ONNX graph of a ResNet (see include/sadanet/export/onnx.h), written with libonnx's
// generated protobuf classes and checked by its checker and shape inference.
#include "sadanet/export/onnx.h"

#include <bit>
#include <cctype>
#include <filesystem>
#include <set>
#include <string_view>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "sadanet/error.h"
#include "sadanet/io/files.h"
#include "sadanet/runtime.h"

namespace sadanet::exporter {
namespace {

static_assert(std::endian::native == std::endian::little, "raw_data is little-endian");

class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* g) : g_(g) {}

  // An initializer under the model's own (torchvision) name.
  const std::string& weight(const std::string& name, const Tensor& t) {
    SADANET_CHECK(t.defined(), "onnx export: tensor ", name, " is undefined");
    Tensor c = t.cpu().to(DType::f32).contiguous();
    onnx::TensorProto* p = g_->add_initializer();
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : c.shape()) p->add_dims(d);
    p->set_raw_data(c.raw_data(), c.nbytes());
    used_.insert(name);
    return p->name();
  }

  std::string conv(const std::string& x, const std::string& name, const nn::Conv2d& c) {
    std::vector<std::string> in{x, weight(name + ".weight", c.weight)};
    if (c.bias.defined()) in.push_back(weight(name + ".bias", c.bias));
    const auto& p = c.params;
    onnx::NodeProto* n = node("Conv", name, in);
    ints(n, "kernel_shape", {c.weight.size(2), c.weight.size(3)});
    ints(n, "strides", {p.stride_h, p.stride_w});
    ints(n, "pads", {p.pad_h, p.pad_w, p.pad_h, p.pad_w});
    ints(n, "dilations", {p.dilation_h, p.dilation_w});
    integer(n, "group", 1);
    return n->output(0);
  }
  std::string bn(const std::string& x, const std::string& name, const nn::BatchNorm2d& b) {
    onnx::NodeProto* n = node("BatchNormalization", name,
                              {x, weight(name + ".weight", b.weight), weight(name + ".bias", b.bias),
                               weight(name + ".running_mean", b.running_mean),
                               weight(name + ".running_var", b.running_var)});
    real(n, "epsilon", static_cast<float>(b.eps));
    used_.insert(name + ".num_batches_tracked");  // training state, not needed to infer
    return n->output(0);
  }
  std::string op(const std::string& type, const std::string& name, const std::vector<std::string>& in) {
    return node(type, name, in)->output(0);
  }
  onnx::NodeProto* node(const std::string& type, const std::string& name, const std::vector<std::string>& in) {
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(type);
    n->set_name(name);
    for (const auto& i : in) n->add_input(i);
    n->add_output(name + ".out");
    return n;
  }
  static void ints(onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void integer(onnx::NodeProto* n, const char* name, int64_t v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void real(onnx::NodeProto* n, const char* name, float v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  const std::set<std::string>& used() const { return used_; }

 private:
  onnx::GraphProto* g_;
  std::set<std::string> used_;
};

// float32 [dims...], a name for a symbolic dimension, a number for a fixed one.
void set_type(onnx::ValueInfoProto* v, const std::string& name, const std::vector<std::string>& dims) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (const auto& d : dims) {
    auto* dim = t->mutable_shape()->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
}

std::string block(GraphBuilder& b, const std::string& x, const std::string& name, const models::Bottleneck& blk) {
  std::string y = b.op("Relu", name + ".relu1", {b.bn(b.conv(x, name + ".conv1", *blk.conv1), name + ".bn1", *blk.bn1)});
  y = b.op("Relu", name + ".relu2", {b.bn(b.conv(y, name + ".conv2", *blk.conv2), name + ".bn2", *blk.bn2)});
  y = b.bn(b.conv(y, name + ".conv3", *blk.conv3), name + ".bn3", *blk.bn3);
  std::string identity = x;
  if (blk.downsample) {
    auto conv = std::static_pointer_cast<nn::Conv2d>(blk.downsample->child("0"));
    auto bn = std::static_pointer_cast<nn::BatchNorm2d>(blk.downsample->child("1"));
    identity = b.bn(b.conv(x, name + ".downsample.0", *conv), name + ".downsample.1", *bn);
  }
  return b.op("Relu", name + ".relu3", {b.op("Add", name + ".add", {y, identity})});
}

onnx::ModelProto build_model(const train::InferenceModel& m) {
  SADANET_CHECK(m.net, "onnx export: no network");
  const models::ResNet& net = *m.net;
  SADANET_CHECK(net.fc, "onnx export: the network has no classifier (fc)");
  const int64_t classes = net.num_classes();
  SADANET_CHECK(static_cast<int64_t>(m.info.classes.size()) == classes, "onnx export: ", m.info.classes.size(),
                " class names for a classifier of ", classes, " outputs");
  const int size = m.info.preprocess.size;
  SADANET_CHECK(size >= 32, "onnx export: input size ", size, " is under 32");

  onnx::ModelProto model;
  model.set_ir_version(kOnnxIrVersion);
  model.set_producer_name("sadanet");
  model.set_producer_version(version());
  model.set_model_version(1);
  model.set_doc_string("sadanet " + std::string(train::arch_name(m.info.arch)) + " classifier of " +
                       std::to_string(classes) + " classes from " +
                       std::filesystem::path(m.info.path).filename().string() +
                       "; preprocessing and class names in metadata_props");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  for (const auto& [k, v] : model_metadata(m)) {
    onnx::StringStringEntryProto* e = model.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }

  onnx::GraphProto* g = model.mutable_graph();
  g->set_name(std::string("sadanet_") + train::arch_name(m.info.arch));
  const std::string s = std::to_string(size), c = std::to_string(classes);
  set_type(g->add_input(), "input", {"N", "3", s, s});

  GraphBuilder b(g);
  std::string y = b.op("Relu", "relu", {b.bn(b.conv("input", "conv1", *net.conv1), "bn1", *net.bn1)});
  onnx::NodeProto* pool = b.node("MaxPool", "maxpool", {y});
  GraphBuilder::ints(pool, "kernel_shape", {3, 3});
  GraphBuilder::ints(pool, "strides", {2, 2});
  GraphBuilder::ints(pool, "pads", {1, 1, 1, 1});
  y = pool->output(0);
  for (size_t s_i = 0; s_i < net.stages.size(); ++s_i)
    for (const auto& [idx, blk] : net.stages[s_i]->children())
      y = block(b, y, "layer" + std::to_string(s_i + 1) + "." + idx, *std::static_pointer_cast<models::Bottleneck>(blk));
  y = b.op("GlobalAveragePool", "avgpool", {y});
  onnx::NodeProto* flat = b.node("Flatten", "flatten", {y});
  GraphBuilder::integer(flat, "axis", 1);
  onnx::NodeProto* gemm = b.node("Gemm", "fc", {flat->output(0), b.weight("fc.weight", net.fc->weight),
                                                b.weight("fc.bias", net.fc->bias)});
  GraphBuilder::integer(gemm, "transB", 1);
  gemm->set_output(0, "logits");
  onnx::NodeProto* softmax = b.node("Softmax", "softmax", {"logits"});
  GraphBuilder::integer(softmax, "axis", 1);
  softmax->set_output(0, "probabilities");
  set_type(g->add_output(), "logits", {"N", c});
  set_type(g->add_output(), "probabilities", {"N", c});

  // The walk above must have taken every tensor of the model, and nothing else.
  std::set<std::string> in_model;
  for (const auto& [name, t] : net.state_dict()) {
    in_model.insert(name);
    SADANET_CHECK(b.used().count(name), "onnx export: tensor ", name, " of the model is not in the graph");
  }
  for (const auto& name : b.used())
    SADANET_CHECK(in_model.count(name), "onnx export: the graph uses ", name, ", which the model does not have");
  return model;
}

// onnx::checker, then strict shape inference on a copy: the outputs must come out [N, C].
void check(const onnx::ModelProto& model, int64_t classes) {
  try {
    onnx::checker::check_model(model);
    onnx::ModelProto inferred = model;
    inferred.mutable_graph()->clear_output();  // inferred afresh, not merged with what we declared
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1));
    int found = 0;
    for (const auto& v : inferred.graph().value_info()) {
      if (v.name() != "logits" && v.name() != "probabilities") continue;
      ++found;
      const auto& shape = v.type().tensor_type().shape();
      SADANET_CHECK(shape.dim_size() == 2 && !shape.dim(0).has_dim_value() && shape.dim(1).dim_value() == classes,
                    "onnx export: shape inference gives ", v.name(), " ", v.type().DebugString(), "; expected [N, ",
                    classes, "]");
    }
    SADANET_CHECK(found == 2, "onnx export: shape inference found ", found, " of the outputs logits, probabilities");
  } catch (const onnx::checker::ValidationError& e) {
    throw Error(std::string("onnx export: the graph fails onnx::checker: ") + e.what());
  } catch (const onnx::InferenceError& e) {
    throw Error(std::string("onnx export: the graph fails shape inference: ") + e.what());
  }
}

}  // namespace

std::string onnx_model_bytes(const train::InferenceModel& m) {
  onnx::ModelProto model = build_model(m);
  check(model, m.net->num_classes());
  const size_t n = model.ByteSizeLong();
  SADANET_CHECK(n < (size_t{2} << 30), "onnx export: the model is ", n,
                " bytes; protobuf files are limited to 2 GiB (external data is not written)");
  std::string bytes;
  SADANET_CHECK(model.SerializeToString(&bytes), "onnx export: protobuf could not serialise the model");
  return bytes;
}

void write_onnx(const train::InferenceModel& m, const std::string& path) {
  const std::string bytes = onnx_model_bytes(m);
  io::write_file_atomic(path, bytes);
}

}  // namespace sadanet::exporter
