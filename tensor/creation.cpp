#include "tensor/creation.h"

#include <cmath>
#include <cstring>
#include <numeric>

#include "tensor/parallel.h"

namespace seqgrad {

Tensor empty(const Dims& shape, DType dtype) { return Tensor::empty(shape, dtype); }

Tensor full(const Dims& shape, double value, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  t.fill_(value);
  return t;
}
Tensor zeros(const Dims& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Dims& shape, DType dtype) { return full(shape, 1.0, dtype); }
// An undefined tensor has shape [] and would silently give a 0-d tensor: check it.
Tensor zeros_like(const Tensor& t) {
  check_defined(t, "zeros_like");
  return zeros(t.shape(), t.dtype());
}
Tensor ones_like(const Tensor& t) {
  check_defined(t, "ones_like");
  return ones(t.shape(), t.dtype());
}
Tensor full_like(const Tensor& t, double value) {
  check_defined(t, "full_like");
  return full(t.shape(), value, t.dtype());
}
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(double start, double end, double step, std::optional<DType> dtype_opt) {
  const bool whole =
      start == std::floor(start) && end == std::floor(end) && step == std::floor(step);
  const DType dtype = dtype_opt.value_or(whole ? kInt64 : kFloat32);
  check(step != 0.0, "arange: step must be nonzero");
  check(std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
        "arange: start {}, end {} and step {} must be finite", start, end, step);
  const double count = std::ceil((end - start) / step);
  const auto n = static_cast<std::int64_t>(std::max(0.0, count));
  Tensor t = Tensor::empty({n}, dtype);
  dispatch_numeric(dtype, "arange", [&]<class T>() {
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}
Tensor arange(std::int64_t end, DType dtype) {
  return arange(0.0, static_cast<double>(end), 1.0, dtype);
}

Tensor linspace(double start, double end, std::int64_t steps, DType dtype) {
  check(steps >= 0, "linspace: steps must be non-negative, got {}", steps);
  Tensor t = Tensor::empty({steps}, dtype);
  dispatch_floating(dtype, "linspace", [&]<class T>() {
    T* p = t.data<T>();
    const double h = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
    for (std::int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(start + h * static_cast<double>(i));
  });
  return t;
}

Tensor eye(std::int64_t n, DType dtype) {
  check(n >= 0, "eye: size must be non-negative, got {}", n);
  Tensor t = zeros({n, n}, dtype);
  dispatch(dtype, [&]<class T>() {
    for (std::int64_t i = 0; i < n; ++i) t.data<T>()[i * n + i] = T(1);
  });
  return t;
}

namespace {
Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

// Fills element by element in row-major order, so the values do not depend on the strides.
template <class F>
const Tensor& fill_with(const Tensor& t, const char* op, F draw) {
  check_defined(t, op);
  Tensor dst = t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype());
  dispatch_floating(t.dtype(), op, [&]<class T>() {
    T* p = dst.data<T>();
    for (std::int64_t i = 0, n = dst.numel(); i < n; ++i) p[i] = static_cast<T>(draw());
  });
  if (dst.storage() != t.storage()) t.copy_(dst);
  t.bump_version();
  return t;
}
}  // namespace

const Tensor& uniform_(const Tensor& t, double low, double high, Generator* gen) {
  Generator& g = pick(gen);
  return fill_with(t, "uniform_", [&] { return low + (high - low) * g.uniform(); });
}
const Tensor& normal_(const Tensor& t, double mean, double std, Generator* gen) {
  check(std >= 0.0, "normal_: std must be non-negative, got {}", std);
  Generator& g = pick(gen);
  return fill_with(t, "normal_", [&] { return mean + std * g.normal(); });
}

Tensor rand(const Dims& shape, DType dtype, Generator* gen) {
  Tensor t = Tensor::empty(shape, dtype);
  uniform_(t, 0.0, 1.0, gen);
  return t;
}
Tensor randn(const Dims& shape, DType dtype, Generator* gen) {
  Tensor t = Tensor::empty(shape, dtype);
  normal_(t, 0.0, 1.0, gen);
  return t;
}

namespace {
// Chris Wellons' lowbias32 (hash-prospector): a 32-bit bijection with near-ideal avalanche, all
// 32-bit integer ops, so a loop of it vectorises on AVX2.
[[gnu::always_inline]] inline std::uint32_t lowbias32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}
}  // namespace

Tensor dropout_mask(const Dims& shape, double p, DType dtype, Generator* gen) {
  check(p >= 0.0 && p < 1.0, "dropout_mask: probability must be in [0, 1), got {}", p);
  Tensor t = Tensor::empty(shape, dtype);
  const std::uint64_t seed = pick(gen).next_u64();
  const auto seed_lo = static_cast<std::uint32_t>(seed),
             seed_hi = static_cast<std::uint32_t>(seed >> 32);
  // Keep where the 24-bit uniform (h >> 8) 2^-24 is below 1 - p.
  const auto threshold = static_cast<std::uint32_t>(std::ldexp(1.0 - p, 24));
  const double scale = 1.0 / (1.0 - p);
  dispatch_floating(dtype, "dropout_mask", [&]<class T>() {
    T* const data = t.data<T>();
    const T kept = static_cast<T>(scale);
    auto fill = [&](std::int64_t begin, std::int64_t end) {
      // Everything the loop reads copied into locals first: read through the closure, `kept` and
      // the seeds might alias the stores to d (as far as GCC knows), and the loop stayed scalar
      // with a branch per element (11% of a Transformer training step at dropout 0.1).
      T* __restrict d = data;
      const T keep_value = kept;
      const std::uint32_t lo = seed_lo, hi = seed_hi, below = threshold;
      for (std::int64_t i = begin; i < end; ++i) {
        const std::uint32_t h = lowbias32(lowbias32(static_cast<std::uint32_t>(i) + lo) ^ hi);
        d[i] = (h >> 8) < below ? keep_value : T(0);
      }
    };
    constexpr std::int64_t kGrain = std::int64_t{1} << 15;
    if (t.numel() >= 2 * kGrain && !detail::inside_parallel_body())
      parallel_for(t.numel(), fill);
    else
      fill(0, t.numel());
  });
  return t;
}

Tensor randint(std::int64_t low, std::int64_t high, const Dims& shape, Generator* gen) {
  check(low < high, "randint: low {} must be below high {}", low, high);
  Tensor t = Tensor::empty(shape, kInt64);
  Generator& g = pick(gen);
  auto* p = t.data<std::int64_t>();
  const auto range = static_cast<std::uint64_t>(high - low);
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i)
    p[i] = low + static_cast<std::int64_t>(g.below(range));
  return t;
}

Tensor randperm(std::int64_t n, Generator* gen) {
  check(n >= 0, "randperm: n must be non-negative, got {}", n);
  Tensor t = Tensor::empty({n}, kInt64);
  auto* p = t.data<std::int64_t>();
  std::iota(p, p + n, std::int64_t{0});
  Generator& g = pick(gen);
  for (std::int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
    std::swap(p[i], p[static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(i + 1)))]);
  return t;
}

namespace {
template <class T>
Tensor from_data(const std::vector<T>& data, Dims shape) {
  if (shape.empty()) shape = Dims{static_cast<std::int64_t>(data.size())};
  check(shape.numel() == static_cast<std::int64_t>(data.size()),
        "from_vector: {} values do not fill shape {} ({} elements)", data.size(), shape,
        shape.numel());
  Tensor t = Tensor::empty(shape, dtype_of<T>());
  if (!data.empty()) std::memcpy(t.raw_data(), data.data(), data.size() * sizeof(T));
  return t;
}
}  // namespace

Tensor from_vector(const std::vector<float>& data, const Dims& shape) {
  return from_data(data, shape);
}
Tensor from_vector(const std::vector<double>& data, const Dims& shape) {
  return from_data(data, shape);
}
Tensor from_vector(const std::vector<std::int64_t>& data, const Dims& shape) {
  return from_data(data, shape);
}

Tensor tensor(std::initializer_list<double> values, const Dims& shape, DType dtype) {
  Tensor t = from_data(std::vector<double>(values), shape);
  return t.to(dtype);
}

}  // namespace seqgrad
