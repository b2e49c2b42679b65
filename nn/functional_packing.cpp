// Packing a padded batch of sequences down to its live positions and back (see functional.h),
// like torch.nn.utils.rnn.pack_padded_sequence / pad_packed_sequence. The two ops are each
// other's backward: packing drops the padding's rows, so their gradient is zero.
//
// Why the recurrent layers use them: the input projection x W_ih^T of a layer is one GEMM over
// every (t, b) position, and in a batch of random lengths 5-20 a third of those are padding. The
// projection over the packed rows costs I*O multiply-adds fewer per padded row, against copying
// I + 2*O values per live row (pack x, pad the result); the backward saves the same twice over.
#include <cstring>

#include "nn/functional.h"
#include "nn/recurrence.h"

namespace seqgrad::nn::functional {

namespace {

// Positions (t, b) in time-major order; packed row n is the n-th live one. `row_bytes` bytes
// per position: both directions are one pass of memcpy/memset over contiguous rows.
void pack_rows(const std::byte* padded, std::byte* packed, std::int64_t T,
               const std::vector<std::int64_t>& lengths, std::size_t row_bytes) {
  const std::int64_t B = static_cast<std::int64_t>(lengths.size());
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t b = 0; b < B; ++b, padded += row_bytes)
      if (t < lengths[static_cast<std::size_t>(b)]) {
        std::memcpy(packed, padded, row_bytes);
        packed += row_bytes;
      }
}

void pad_rows(const std::byte* packed, std::byte* padded, std::int64_t T,
              const std::vector<std::int64_t>& lengths, std::size_t row_bytes) {
  const std::int64_t B = static_cast<std::int64_t>(lengths.size());
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t b = 0; b < B; ++b, padded += row_bytes)
      if (t < lengths[static_cast<std::size_t>(b)]) {
        std::memcpy(padded, packed, row_bytes);
        packed += row_bytes;
      } else {
        std::memset(padded, 0, row_bytes);  // all-zero bytes are 0.0 in float32 and float64
      }
}

// `lead` followed by shape's dims after its first `skip` ones.
Dims with_leading(std::initializer_list<std::int64_t> lead, const Dims& shape, int skip) {
  Dims out(lead);
  for (int d = skip; d < shape.size(); ++d) out.push_back(shape[d]);
  return out;
}

// Bytes of one position: the product of the dims after the first `lead` ones.
std::size_t row_bytes(const Tensor& x, int lead) {
  std::size_t n = itemsize(x.dtype());
  for (int d = lead; d < x.dim(); ++d) n *= static_cast<std::size_t>(x.size(d));
  return n;
}

Tensor pack_tensor(const Tensor& x, const std::vector<std::int64_t>& lengths, std::int64_t live) {
  const Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(with_leading({live}, xc.shape(), 2), xc.dtype());
  pack_rows(static_cast<const std::byte*>(xc.raw_data()), static_cast<std::byte*>(out.raw_data()),
            xc.size(0), lengths, row_bytes(xc, 2));
  return out;
}

Tensor pad_tensor(const Tensor& x, const std::vector<std::int64_t>& lengths, std::int64_t T) {
  const Tensor xc = x.contiguous();
  const std::int64_t B = static_cast<std::int64_t>(lengths.size());
  Tensor out = Tensor::empty(with_leading({T, B}, xc.shape(), 1), xc.dtype());
  pad_rows(static_cast<const std::byte*>(xc.raw_data()), static_cast<std::byte*>(out.raw_data()), T,
           lengths, row_bytes(xc, 1));
  return out;
}

}  // namespace

Variable pack_padded(const Variable& x, const std::vector<std::int64_t>& lengths) {
  check(x.dim() >= 2, "pack_padded: input must be [T, B, ...], got shape {}", x.shape());
  const std::int64_t T = x.size(0);
  const std::int64_t live = detail::check_lengths("pack_padded", T, x.size(1), lengths);
  return record(
      "pack_padded", pack_tensor(x.value(), lengths, live), {x},
      [lengths, T](const Tensor& gy, GradSlots& dx) { dx[0] += pad_tensor(gy, lengths, T); });
}

Variable pad_packed(const Variable& x, const std::vector<std::int64_t>& lengths,
                    std::int64_t total_length) {
  check(x.dim() >= 1, "pad_packed: input must be [N, ...], got a scalar");
  const std::int64_t T = total_length, B = static_cast<std::int64_t>(lengths.size());
  check(T >= 0, "pad_packed: total_length must be non-negative, got {}", T);
  const std::int64_t live = detail::check_lengths("pad_packed", T, B, lengths);
  check(x.size(0) == live, "pad_packed: input of shape {} has {} rows, the lengths hold {}",
        x.shape(), x.size(0), live);
  return record("pad_packed", pad_tensor(x.value(), lengths, T), {x},
                [lengths, live](const Tensor& gy, GradSlots& dx) {
                  dx[0] += pack_tensor(gy, lengths, live);
                });
}

Variable packed_linear(const Variable& x, const Variable& weight, const Variable& bias,
                       const std::vector<std::int64_t>& lengths) {
  check(x.dim() == 3, "packed_linear: input must be [T, B, in], got shape {}", x.shape());
  if (lengths.empty()) return linear(x, weight, bias);
  const std::int64_t T = x.size(0);
  if (detail::check_lengths("packed_linear", T, x.size(1), lengths) == T * x.size(1))
    return linear(x, weight, bias);  // no padding: nothing to skip
  return pad_packed(linear(pack_padded(x, lengths), weight, bias), lengths, T);
}

}  // namespace seqgrad::nn::functional
