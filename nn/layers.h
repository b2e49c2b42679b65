// Layers: modules that own their parameters and call nn/functional.h. Defaults (initialisation,
// eps, bias) follow PyTorch, so weights and hyper-parameters carry over.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "nn/functional.h"
#include "nn/module.h"

namespace seqgrad::nn {

// y = x W^T + b; W, b ~ U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's kaiming_uniform_(a=sqrt 5) rule).
class Linear : public Layer {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true,
         DType dtype = kFloat32, Generator* gen = nullptr);
  Variable forward(const Variable& x) override;
  std::string extra_repr() const override;
  Variable weight, bias;
};

// Rows of a [num, dim] table picked by int64 ids; weight ~ N(0, 1), padding row zeroed.
class Embedding : public Module {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
            std::optional<std::int64_t> padding_idx = {}, DType dtype = kFloat32,
            Generator* gen = nullptr);
  Variable forward(const Tensor& ids);
  Variable operator()(const Tensor& ids) { return forward(ids); }
  std::string extra_repr() const override;
  Variable weight;
  std::optional<std::int64_t> padding_idx;
};

class Conv2d : public Layer {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
         std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t dilation = 1,
         bool bias = true, DType dtype = kFloat32, Generator* gen = nullptr);
  Variable forward(const Variable& x) override;
  std::string extra_repr() const override;
  Variable weight, bias;
  functional::Conv2dOptions options;
};

class Conv1d : public Layer {
 public:
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
         std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t dilation = 1,
         bool bias = true, DType dtype = kFloat32, Generator* gen = nullptr);
  Variable forward(const Variable& x) override;
  std::string extra_repr() const override;
  Variable weight, bias;
  std::int64_t stride, padding, dilation;
};

class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(std::int64_t kernel, std::int64_t stride = 0, std::int64_t padding = 0);
  Variable forward(const Variable& x) override;
  std::string extra_repr() const override;
  std::int64_t kernel, stride, padding;
};

class AvgPool2d : public Layer {
 public:
  explicit AvgPool2d(std::int64_t kernel, std::int64_t stride = 0, std::int64_t padding = 0);
  Variable forward(const Variable& x) override;
  std::string extra_repr() const override;
  std::int64_t kernel, stride, padding;
};

// [N, ...] -> [N, prod(...)]
class Flatten : public Layer {
 public:
  Flatten() : Layer("Flatten") {}
  Variable forward(const Variable& x) override;
};

class Dropout : public Layer {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  Variable forward(const Variable& x) override;
  std::string extra_repr() const override;
  double p;
  Generator* gen;
};

class LayerNorm : public Layer {
 public:
  explicit LayerNorm(Dims normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = kFloat32);
  Variable forward(const Variable& x) override;
  std::string extra_repr() const override;
  Dims normalized_shape;
  double eps;
  Variable weight, bias;
};

class ReLU : public Layer {
 public:
  ReLU() : Layer("ReLU") {}
  Variable forward(const Variable& x) override { return relu(x); }
};
class Tanh : public Layer {
 public:
  Tanh() : Layer("Tanh") {}
  Variable forward(const Variable& x) override { return tanh(x); }
};
class Sigmoid : public Layer {
 public:
  Sigmoid() : Layer("Sigmoid") {}
  Variable forward(const Variable& x) override { return sigmoid(x); }
};
class GELU : public Layer {
 public:
  GELU() : Layer("GELU") {}
  Variable forward(const Variable& x) override { return functional::gelu(x); }
};

// Applies its layers in order; they are registered as "0", "1", ... as in PyTorch.
class Sequential : public Layer {
 public:
  Sequential() : Layer("Sequential") {}
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers);
  Sequential& add(std::shared_ptr<Layer> layer);
  Variable forward(const Variable& x) override;
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }

  // The parameter tree of Module::summary().
  using Module::summary;
  // A table in the style of PyTorch's torchsummary: each layer's index and description, the shape
  // of its output for a zero input of `input_shape` (in the dtype of the parameters, float32 when
  // there are none), its parameter count, then the total. The layers run one at a time, without
  // recording a graph and in eval mode (so Dropout draws nothing; each layer's train/eval mode is
  // restored afterwards). A layer that rejects its input throws seqgrad::Error naming its index.
  std::string summary(const Dims& input_shape) const;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace seqgrad::nn
