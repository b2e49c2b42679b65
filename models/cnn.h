// The Fashion-MNIST classifier of the `seqgrad classify` command:
//   conv(1->32, 3x3, pad 1) + ReLU + maxpool 2 -> conv(32->64, 3x3, pad 1) + ReLU + maxpool 2
//   (computed as maxpool then ReLU, which is the same function: see cnn.cpp)
//   -> flatten -> Linear(3136 -> 128) + ReLU -> Linear(128 -> 10)
// as one nn::Sequential, so its parameter names ("0.weight", "3.weight", "7.weight", "9.weight")
// are those of the same nn.Sequential in PyTorch (bench/torch_cnn.py).
#pragma once

#include <memory>

#include "nn/all.h"

namespace seqgrad::models {

// OpenBLAS threads to use with this net (see set_num_threads): its convolutions and pooling split
// the batch over seqgrad's threads, so BLAS itself stays single-threaded.
inline constexpr int kFashionCnnBlasThreads = 1;

std::shared_ptr<nn::Sequential> make_fashion_cnn(Generator* gen = nullptr);

}  // namespace seqgrad::models
