#include "nn/layers.h"

#include <cmath>

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

}  // namespace seqgrad::nn
