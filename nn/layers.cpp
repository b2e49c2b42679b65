#include "nn/layers.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "nn/init.h"

namespace seqgrad::nn {

namespace {
// PyTorch's default for Linear and Conv: kaiming_uniform_(a = sqrt(5)) on the weight, which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias.
double default_bound(std::int64_t fan_in) {
  return fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
}
}  // namespace

Linear::Linear(std::int64_t in, std::int64_t out, bool has_bias, DType dtype, Generator* gen)
    : Layer("Linear") {
  check(in > 0 && out > 0, "Linear: sizes must be positive, got in={} out={}", in, out);
  const double b = default_bound(in);
  weight = register_parameter("weight", seqgrad::uniform_(empty({out, in}, dtype), -b, b, gen));
  if (has_bias)
    bias = register_parameter("bias", seqgrad::uniform_(empty({out}, dtype), -b, b, gen));
}
Variable Linear::forward(const Variable& x) { return functional::linear(x, weight, bias); }
std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", weight.size(1), weight.size(0),
                     bias.defined());
}

Embedding::Embedding(std::int64_t num, std::int64_t dim, std::optional<std::int64_t> pad,
                     DType dtype, Generator* gen)
    : Module("Embedding"), padding_idx(pad) {
  check(num > 0 && dim > 0, "Embedding: sizes must be positive, got {} x {}", num, dim);
  if (pad) {
    if (*pad < 0) *padding_idx += num;
    check(*padding_idx >= 0 && *padding_idx < num,
          "Embedding: padding_idx {} is out of range for {} embeddings", *pad, num);
  }
  Tensor w = seqgrad::normal_(empty({num, dim}, dtype), 0.0, 1.0, gen);
  if (padding_idx) w.select(0, *padding_idx).zero_();
  weight = register_parameter("weight", w);
}
Variable Embedding::forward(const Tensor& ids) {
  return functional::embedding(ids, weight, padding_idx);
}
std::string Embedding::extra_repr() const {
  return fmt::format("{}, {}{}", weight.size(0), weight.size(1),
                     padding_idx ? fmt::format(", padding_idx={}", *padding_idx) : "");
}

Conv2d::Conv2d(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
               std::int64_t padding, std::int64_t dilation, bool has_bias, DType dtype,
               Generator* gen)
    : Layer("Conv2d") {
  check(in > 0 && out > 0 && k > 0, "Conv2d: channels and kernel size must be positive");
  options = {stride, stride, padding, padding, dilation, dilation};
  const double b = default_bound(in * k * k);
  weight =
      register_parameter("weight", seqgrad::uniform_(empty({out, in, k, k}, dtype), -b, b, gen));
  if (has_bias)
    bias = register_parameter("bias", seqgrad::uniform_(empty({out}, dtype), -b, b, gen));
}
Variable Conv2d::forward(const Variable& x) { return functional::conv2d(x, weight, bias, options); }
std::string Conv2d::extra_repr() const {
  return fmt::format("{}, {}, kernel_size={}, stride={}, padding={}", weight.size(1),
                     weight.size(0), weight.size(2), options.stride_h, options.pad_h);
}

Conv1d::Conv1d(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride_,
               std::int64_t padding_, std::int64_t dilation_, bool has_bias, DType dtype,
               Generator* gen)
    : Layer("Conv1d"), stride(stride_), padding(padding_), dilation(dilation_) {
  check(in > 0 && out > 0 && k > 0, "Conv1d: channels and kernel size must be positive");
  const double b = default_bound(in * k);
  weight = register_parameter("weight", seqgrad::uniform_(empty({out, in, k}, dtype), -b, b, gen));
  if (has_bias)
    bias = register_parameter("bias", seqgrad::uniform_(empty({out}, dtype), -b, b, gen));
}
Variable Conv1d::forward(const Variable& x) {
  return functional::conv1d(x, weight, bias, stride, padding, dilation);
}
std::string Conv1d::extra_repr() const {
  return fmt::format("{}, {}, kernel_size={}, stride={}, padding={}", weight.size(1),
                     weight.size(0), weight.size(2), stride, padding);
}

MaxPool2d::MaxPool2d(std::int64_t k, std::int64_t s, std::int64_t p)
    : Layer("MaxPool2d"), kernel(k), stride(s == 0 ? k : s), padding(p) {}
Variable MaxPool2d::forward(const Variable& x) {
  return functional::max_pool2d(x, kernel, stride, padding);
}
std::string MaxPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", kernel, stride, padding);
}

AvgPool2d::AvgPool2d(std::int64_t k, std::int64_t s, std::int64_t p)
    : Layer("AvgPool2d"), kernel(k), stride(s == 0 ? k : s), padding(p) {}
Variable AvgPool2d::forward(const Variable& x) {
  return functional::avg_pool2d(x, kernel, stride, padding);
}
std::string AvgPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", kernel, stride, padding);
}

Variable Flatten::forward(const Variable& x) {
  check(x.dim() >= 1, "Flatten: input must have a batch dim, got shape {}", x.shape());
  return x.reshape({x.size(0), -1});
}

Dropout::Dropout(double p_, Generator* gen_) : Layer("Dropout"), p(p_), gen(gen_) {
  check(p >= 0.0 && p <= 1.0, "Dropout: probability must be in [0, 1], got {}", p);
}
Variable Dropout::forward(const Variable& x) {
  return functional::dropout(x, p, is_training(), gen);
}
std::string Dropout::extra_repr() const { return fmt::format("p={}", p); }

LayerNorm::LayerNorm(Dims shape, double eps_, bool affine, DType dtype)
    : Layer("LayerNorm"), normalized_shape(shape), eps(eps_) {
  if (affine) {
    weight = register_parameter("weight", ones(shape, dtype));
    bias = register_parameter("bias", zeros(shape, dtype));
  }
}
Variable LayerNorm::forward(const Variable& x) {
  return functional::layer_norm(x, normalized_shape, weight, bias, eps);
}
std::string LayerNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", normalized_shape, eps, weight.defined());
}

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers) : Layer("Sequential") {
  for (auto& l : layers) add(std::move(l));
}
Sequential& Sequential::add(std::shared_ptr<Layer> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}
Variable Sequential::forward(const Variable& x) {
  Variable y = x;
  for (auto& l : layers_) y = l->forward(y);
  return y;
}

namespace {

// Puts a module tree into eval mode and restores every module's own train/eval flag afterwards
// (even on an exception). Flags are restored in pre-order, so that train(flag) on a parent, which
// reaches all its descendants, is corrected by the descendants' own flags that follow it.
class EvalModeScope {
 public:
  explicit EvalModeScope(const std::shared_ptr<Module>& root) {
    record(root);
    root->eval();
  }
  ~EvalModeScope() {
    for (const auto& [m, on] : saved_) m->train(on);
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  void record(const std::shared_ptr<Module>& m) {
    saved_.emplace_back(m, m->is_training());
    for (const auto& [name, child] : m->named_children()) record(child);
  }
  std::vector<std::pair<std::shared_ptr<Module>, bool>> saved_;
};

}  // namespace

std::string Sequential::summary(const Dims& input_shape) const {
  for (auto s : input_shape)
    check(s >= 0, "Sequential::summary: negative size in input shape {}", input_shape);
  const std::vector<Variable> params = parameters();
  const DType dtype = params.empty() ? kFloat32 : params.front().dtype();

  struct Row {
    std::string index, layer, shape, params;
  };
  std::vector<Row> rows = {{"#", "Layer", "Output shape", "Params"}};
  NoGradGuard no_grad;
  Variable x(zeros(input_shape, dtype));
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const std::shared_ptr<Layer>& layer = layers_[i];
    const std::string layer_name = fmt::format("{}({})", layer->type_name(), layer->extra_repr());
    try {
      EvalModeScope eval_mode(layer);
      x = layer->forward(x);
    } catch (const Error& e) {
      fail("Sequential::summary: layer {} ({}) fails on input of shape {}: {}", i, layer_name,
           x.shape(), e.what());
    }
    rows.push_back({std::to_string(i), layer_name, fmt::format("{}", x.shape()),
                    fmt::format("{}", layer->num_parameters())});
  }

  std::size_t w[4] = {0, 0, 0, 0};
  for (const Row& r : rows) {
    w[0] = std::max(w[0], r.index.size());
    w[1] = std::max(w[1], r.layer.size());
    w[2] = std::max(w[2], r.shape.size());
    w[3] = std::max(w[3], r.params.size());
  }
  const std::size_t width = w[0] + w[1] + w[2] + w[3] + 6;
  std::string out =
      fmt::format("{}({}) on input {} ({})\n", type_name(), extra_repr(), input_shape, dtype);
  const std::string rule(width, '-'), double_rule(width, '=');
  out += rule + "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out += fmt::format("{:>{}}  {:<{}}  {:<{}}  {:>{}}\n", r.index, w[0], r.layer, w[1], r.shape,
                       w[2], r.params, w[3]);
    if (i == 0) out += double_rule + "\n";
  }
  out += double_rule + "\n";
  out += fmt::format("Total parameters: {}\n", num_parameters());
  return out;
}

}  // namespace seqgrad::nn
