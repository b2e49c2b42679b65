// Parameter initialisers with PyTorch's names and formulas (torch.nn.init). Each fills the tensor
// in place from `gen` (default_generator() when null) and returns it.
#pragma once

#include "tensor/all.h"

namespace seqgrad::nn::init {

// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field (weights [out, in, ...]).
std::pair<std::int64_t, std::int64_t> fans(const Tensor& t);

const Tensor& uniform_(const Tensor& t, double low = 0.0, double high = 1.0,
                       Generator* gen = nullptr);
const Tensor& normal_(const Tensor& t, double mean = 0.0, double std = 1.0,
                      Generator* gen = nullptr);
const Tensor& zeros_(const Tensor& t);
const Tensor& ones_(const Tensor& t);
// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
const Tensor& xavier_uniform_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);
// U(-b, b), b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)) (leaky_relu), fan_in mode.
const Tensor& kaiming_uniform_(const Tensor& t, double a = 0.0, Generator* gen = nullptr);
// A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times gain.
const Tensor& orthogonal_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace seqgrad::nn::init
