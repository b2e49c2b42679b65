// The source encoder choice that seq2seq and attention share: their own recurrent encoder
// (--encoder rnn, the default, and what a checkpoint without the key means) or the convolutional
// one of Gehring et al. 2017 (--encoder cnn, nn/conv_encoder.h) with its options.
#pragma once

#include <string>

#include "nn/conv_encoder.h"

namespace seqgrad::models {

inline constexpr const char* kEncoderHelp =
    "Source encoder: rnn (recurrent) or cnn (convolutional, Gehring et al. 2017)";
inline constexpr const char* kConvLayersHelp = "Convolution layers of the cnn encoder";
inline constexpr const char* kKernelHelp = "Kernel size of the cnn encoder's convolutions (odd)";
inline constexpr const char* kMaxPositionsHelp =
    "Size of the position table, one more than the longest sequence it reads (transformer: sources "
    "and targets; --encoder cnn: sources)";

// True for "cnn", false for "rnn"; any other name is an error naming `model` and the value.
inline bool uses_conv_encoder(const std::string& encoder, const char* model) {
  check(encoder == "rnn" || encoder == "cnn", "{}: --encoder must be rnn or cnn, got '{}'", model,
        encoder);
  return encoder == "cnn";
}

inline nn::ConvEncoderConfig conv_encoder_config(std::int64_t vocab, std::int64_t emb,
                                                 std::int64_t channels, std::int64_t out,
                                                 std::int64_t layers, std::int64_t kernel,
                                                 std::int64_t max_positions, double dropout,
                                                 Generator* gen) {
  return {.vocab = vocab,
          .emb = emb,
          .channels = channels,
          .out = out,
          .layers = layers,
          .kernel = kernel,
          .max_positions = max_positions,
          .dropout = dropout,
          .dtype = kFloat32,
          .gen = gen};
}

}  // namespace seqgrad::models
