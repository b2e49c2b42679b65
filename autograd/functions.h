// Differentiable operations on Variables. Each is defined next to its backward in ops_*.cpp.
// Non-differentiable results (comparisons, argmax, indices) are plain Tensors.
#pragma once

#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace seqgrad {

// --- elementwise (ops_elementwise.cpp) -------------------------------------------------------
Variable neg(const Variable& x);
Variable abs(const Variable& x);
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable sqrt(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable relu(const Variable& x);
Variable pow(const Variable& x, double exponent);
Variable clamp(const Variable& x, double low, double high);

Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable maximum(const Variable& a, const Variable& b);
Variable minimum(const Variable& a, const Variable& b);
Variable add(const Variable& a, double s);
Variable mul(const Variable& a, double s);
Variable rsub(const Variable& a, double s);  // s - a
Variable rdiv(const Variable& a, double s);  // s / a

Variable where(const Tensor& cond, const Variable& a, const Variable& b);
Variable masked_fill(const Variable& x, const Tensor& mask, double value);

Variable operator-(const Variable& a);
Variable operator+(const Variable& a, const Variable& b);
Variable operator-(const Variable& a, const Variable& b);
Variable operator*(const Variable& a, const Variable& b);
Variable operator/(const Variable& a, const Variable& b);
Variable operator+(const Variable& a, double s);
Variable operator-(const Variable& a, double s);
Variable operator*(const Variable& a, double s);
Variable operator/(const Variable& a, double s);
Variable operator+(double s, const Variable& a);
Variable operator-(double s, const Variable& a);
Variable operator*(double s, const Variable& a);
Variable operator/(double s, const Variable& a);
// With a constant tensor (not differentiated), as backward formulas use masks and weights.
Variable operator+(const Variable& a, const Tensor& b);
Variable operator-(const Variable& a, const Tensor& b);
Variable operator*(const Variable& a, const Tensor& b);
Variable operator/(const Variable& a, const Tensor& b);
Variable operator+(const Tensor& a, const Variable& b);
Variable operator-(const Tensor& a, const Variable& b);
Variable operator*(const Tensor& a, const Variable& b);
Variable operator/(const Tensor& a, const Variable& b);

// Comparisons (not differentiable): bool tensors.
Tensor eq(const Variable& a, const Variable& b);
Tensor lt(const Variable& a, const Variable& b);
Tensor gt(const Variable& a, const Variable& b);
Tensor eq(const Variable& a, double s);
Tensor lt(const Variable& a, double s);
Tensor gt(const Variable& a, double s);

// --- reductions (ops_reduce.cpp) ---------------------------------------------------------------
Variable sum(const Variable& x, const Dims& dims = {}, bool keepdim = false);
Variable mean(const Variable& x, const Dims& dims = {}, bool keepdim = false);
Variable amax(const Variable& x, const Dims& dims = {}, bool keepdim = false);
Variable amin(const Variable& x, const Dims& dims = {}, bool keepdim = false);
Variable logsumexp(const Variable& x, const Dims& dims, bool keepdim = false);
std::pair<Variable, Tensor> max(const Variable& x, std::int64_t dim, bool keepdim = false);
std::pair<Variable, Tensor> min(const Variable& x, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Variable& x, std::int64_t dim, bool keepdim = false);
Variable softmax(const Variable& x, std::int64_t dim);
Variable log_softmax(const Variable& x, std::int64_t dim);

// --- views and copies (ops_view.cpp); also available as Variable members ------------------------
Variable view(const Variable& x, const Dims& shape);
Variable reshape(const Variable& x, const Dims& shape);
Variable transpose(const Variable& x, std::int64_t d0, std::int64_t d1);
Variable permute(const Variable& x, const Dims& order);
Variable narrow(const Variable& x, std::int64_t dim, std::int64_t start, std::int64_t length);
Variable slice(const Variable& x, std::int64_t dim, std::int64_t start, std::int64_t end,
               std::int64_t step = 1);
Variable select(const Variable& x, std::int64_t dim, std::int64_t index);
Variable unsqueeze(const Variable& x, std::int64_t dim);
Variable squeeze(const Variable& x);
Variable squeeze(const Variable& x, std::int64_t dim);
Variable expand(const Variable& x, const Dims& shape);
Variable contiguous(const Variable& x);
Variable clone(const Variable& x);
Variable to(const Variable& x, DType dtype);

// --- matrix products (ops_linalg.cpp) ----------------------------------------------------------
Variable matmul(const Variable& a, const Variable& b);
Variable mm(const Variable& a, const Variable& b);
Variable bmm(const Variable& a, const Variable& b);

// --- joining and indexing (ops_index.cpp) -------------------------------------------------------
Variable cat(const std::vector<Variable>& xs, std::int64_t dim = 0);
Variable stack(const std::vector<Variable>& xs, std::int64_t dim = 0);
std::vector<Variable> split(const Variable& x, std::int64_t split_size, std::int64_t dim = 0);
std::vector<Variable> chunk(const Variable& x, std::int64_t chunks, std::int64_t dim = 0);
Variable index_select(const Variable& x, std::int64_t dim, const Tensor& index);
Variable gather(const Variable& x, std::int64_t dim, const Tensor& index);

// --- backward helpers -------------------------------------------------------------------------
// Ops that backward formulas use to send gy back where it came from. Each has a tensor version
// (the fast path) and a Variable version whose own backward is the forward op it inverts, so
// that a recorded backward pass can be differentiated again.
// relu's: gy where y > 0, else 0.
Tensor relu_backward(const Tensor& gy, const Tensor& y);
Variable relu_backward(const Variable& gy, const Tensor& y);
// A tensor of shape `in`, zero but for x.slice(dim, start, end, step) = gy.
Tensor slice_backward(const Tensor& gy, const Dims& in, std::int64_t dim, std::int64_t start,
                      std::int64_t end, std::int64_t step);
Variable slice_backward(const Variable& gy, const Dims& in, std::int64_t dim, std::int64_t start,
                        std::int64_t end, std::int64_t step);
// A tensor of shape `in`, zero but for x.select(dim, index) = gy.
Tensor select_backward(const Tensor& gy, const Dims& in, std::int64_t dim, std::int64_t index);
Variable select_backward(const Variable& gy, const Dims& in, std::int64_t dim, std::int64_t index);
// Zeros of shape `in` with gy's slices added at `index` along dim (index_select's backward).
Tensor index_select_backward(const Tensor& gy, const Dims& in, std::int64_t dim,
                             const Tensor& index);
Variable index_select_backward(const Variable& gy, const Dims& in, std::int64_t dim,
                               const Tensor& index);
// Zeros of shape `in` with gy scatter-added at `index` along dim (gather's backward).
Tensor gather_backward(const Tensor& gy, const Dims& in, std::int64_t dim, const Tensor& index);
Variable gather_backward(const Variable& gy, const Dims& in, std::int64_t dim, const Tensor& index);

}  // namespace seqgrad
