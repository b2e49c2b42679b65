// Printing: fmt::print("{}", t) shows the values PyTorch-style, then the shape and dtype.
// Large tensors are summarised with "..." (the first and last three entries of each dim).
#pragma once

#include <fmt/format.h>

#include <string>

#include "tensor/tensor.h"

namespace seqgrad {
std::string to_string(const Tensor& t);
}

template <>
struct fmt::formatter<seqgrad::Tensor> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  auto format(const seqgrad::Tensor& t, format_context& ctx) const {
    return fmt::format_to(ctx.out(), "{}", seqgrad::to_string(t));
  }
};
