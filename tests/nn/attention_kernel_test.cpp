// The fused additive-attention read (nn::functional::additive_attention): gradcheck in float64,
// agreement with the same equations composed from generic, separately tested ops (tanh, sum,
// softmax with a -1e9 mask, bmm), padding positions that neither change the result nor get a
// gradient, float32 against float64, thread counts, and its errors.
#include <functional>
#include <vector>

#include "nn/nn_test_util.h"
#include "tensor/parallel.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

using Vars = std::vector<Variable>;

namespace {

constexpr std::int64_t B = 3, S = 4, A = 3, D = 5;
const std::vector<std::int64_t> kRaggedLengths = {2, 4, 1};

// e_bj = v . tanh(keys_bj + q_b), softmax over j < L_b, context_b = sum_j alpha_bj values_bj.
Variable composed_attention(const Vars& x, const std::vector<std::int64_t>& lengths) {
  const std::int64_t batch = x[1].size(0), positions = x[1].size(1);
  std::vector<double> mask(static_cast<std::size_t>(batch * positions), 0.0);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t j = lengths[static_cast<std::size_t>(b)]; j < positions; ++j)
      mask[static_cast<std::size_t>(b * positions + j)] = -1e9;
  const Variable scores = sum(tanh(x[1] + x[0].unsqueeze(1)) * x[2], {2});  // [B, S]
  const Variable alpha =
      softmax(scores + Variable(from_vector(mask, {batch, positions}).to(x[0].dtype())), 1);
  return bmm(alpha.unsqueeze(1), x[3]).squeeze(1);
}

std::vector<Tensor> inputs(DType dtype, Generator& gen) {
  return {randn({B, A}, dtype, &gen), randn({B, S, A}, dtype, &gen), randn({A}, dtype, &gen),
          randn({B, S, D}, dtype, &gen)};
}

}  // namespace

TEST_CASE("gradcheck: additive_attention") {
  Generator gen(81);
  for (const auto& lengths : {std::vector<std::int64_t>{S, S, S}, kRaggedLengths}) {
    CAPTURE(lengths[0]);
    CHECK_GRADCHECK(
        [&](const Vars& v) { return F::additive_attention(v[0], v[1], v[2], v[3], lengths); },
        inputs(kFloat64, gen));
  }
}

TEST_CASE("additive_attention: output and gradients equal the composed equations (float64)") {
  Generator gen(82);
  const std::vector<Tensor> in = inputs(kFloat64, gen);
  const Tensor weights = randn({B, D}, kFloat64, &gen);
  for (const auto& lengths : {std::vector<std::int64_t>{S, S, S}, kRaggedLengths}) {
    CAPTURE(lengths[0]);
    const auto fused = output_and_grads(in, weights, [&](const Vars& v) {
      return F::additive_attention(v[0], v[1], v[2], v[3], lengths);
    });
    const auto reference = output_and_grads(
        in, weights, [&](const Vars& v) { return composed_attention(v, lengths); });
    for (std::size_t i = 0; i < fused.size(); ++i) {
      CAPTURE(i);
      expect_close(fused[i], reference[i], 1e-10, 1e-12);
    }
  }
}

TEST_CASE("additive_attention: padding positions change nothing and get no gradient") {
  Generator gen(83);
  std::vector<Tensor> in = inputs(kFloat64, gen);
  const Tensor weights = randn({B, D}, kFloat64, &gen);
  auto op = [&](const Vars& v) {
    return F::additive_attention(v[0], v[1], v[2], v[3], kRaggedLengths);
  };
  const auto before = output_and_grads(in, weights, op);
  // Overwrite every padding position of keys and values with huge values.
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = kRaggedLengths[static_cast<std::size_t>(b)]; j < S; ++j) {
      in[1].select(0, b).select(0, j).fill_(1e6);
      in[3].select(0, b).select(0, j).fill_(-1e6);
    }
  const auto after = output_and_grads(in, weights, op);
  for (std::size_t i = 0; i < before.size(); ++i) {
    CAPTURE(i);
    expect_close(after[i], before[i], 0.0, 0.0);
  }
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = kRaggedLengths[static_cast<std::size_t>(b)]; j < S; ++j) {
      CHECK(amax(abs(after[2].select(0, b).select(0, j))).item() == 0.0);  // dkeys
      CHECK(amax(abs(after[4].select(0, b).select(0, j))).item() == 0.0);  // dvalues
    }
}

TEST_CASE("additive_attention: float32 agrees with float64") {
  Generator gen(84);
  const std::vector<Tensor> in64 = inputs(kFloat64, gen);
  std::vector<Tensor> in32;
  for (const Tensor& t : in64) in32.push_back(t.to(kFloat32));
  const Tensor weights = randn({B, D}, kFloat64, &gen);
  auto op = [&](const Vars& v) {
    return F::additive_attention(v[0], v[1], v[2], v[3], kRaggedLengths);
  };
  const auto r64 = output_and_grads(in64, weights, op);
  const auto r32 = output_and_grads(in32, weights.to(kFloat32), op);
  for (std::size_t i = 0; i < r64.size(); ++i) {
    CAPTURE(i);
    expect_close(r32[i], r64[i], 1e-4, 1e-5);
  }
}

TEST_CASE("additive_attention: float32 agrees with float64 at widths that fill vector lanes") {
  // A and D span several 16-lane vectors and a tail, so that the vectorised loops themselves run
  // (AVX-512 ones where the machine has it, 8-lane ones otherwise), not only their tails.
  Generator gen(85);
  const std::int64_t b = 3, s = 6, a = 37, d = 70;
  const std::vector<std::int64_t> lengths = {2, 6, 1};
  const std::vector<Tensor> in64 = {randn({b, a}, kFloat64, &gen), randn({b, s, a}, kFloat64, &gen),
                                    randn({a}, kFloat64, &gen), randn({b, s, d}, kFloat64, &gen)};
  std::vector<Tensor> in32;
  for (const Tensor& t : in64) in32.push_back(t.to(kFloat32));
  const Tensor weights = randn({b, d}, kFloat64, &gen);
  auto op = [&](const Vars& v) { return F::additive_attention(v[0], v[1], v[2], v[3], lengths); };
  const auto r64 = output_and_grads(in64, weights, op);
  const auto r32 = output_and_grads(in32, weights.to(kFloat32), op);
  for (std::size_t i = 0; i < r64.size(); ++i) {
    CAPTURE(i);
    expect_close(r32[i], r64[i], 1e-4, 1e-5);
  }
}

TEST_CASE("additive_attention: 1, 2 and 3 threads give the same output and gradients") {
  RestoreOneThread restore;
  Generator gen(85);
  // Large enough to be split over threads (B * S * (A + D) >= 2^17); 33 rows split unevenly.
  constexpr std::int64_t batch = 33, positions = 16, a = 64, d = 192;
  const std::vector<Tensor> in = {
      randn({batch, a}, kFloat64, &gen), randn({batch, positions, a}, kFloat64, &gen),
      randn({a}, kFloat64, &gen), randn({batch, positions, d}, kFloat64, &gen)};
  std::vector<std::int64_t> lengths;
  for (std::int64_t b = 0; b < batch; ++b) lengths.push_back(1 + (b * 7) % positions);
  const Tensor weights = randn({batch, d}, kFloat64, &gen);
  auto op = [&](const Vars& v) { return F::additive_attention(v[0], v[1], v[2], v[3], lengths); };
  set_num_threads(1);
  const auto one = output_and_grads(in, weights, op);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    set_num_threads(threads);
    const auto many = output_and_grads(in, weights, op);
    // dv (index 3) sums per-thread partials in another order, so it may differ by rounding: in
    // float64 that is far below 1e-12 (float32 cancellation over 33 x 16 terms reached 2e-6, which
    // no fixed float32 tolerance bounds). Everything else is computed per row and is bit-identical.
    for (std::size_t i = 0; i < one.size(); ++i) {
      CAPTURE(i);
      expect_close(many[i], one[i], i == 3 ? 1e-12 : 0.0, i == 3 ? 1e-14 : 0.0);
    }
  }
}

TEST_CASE("additive_attention: bad shapes, dtypes and lengths are errors naming the op") {
  Generator gen(86);
  const std::vector<Tensor> t = inputs(kFloat64, gen);
  const Variable q(t[0]), keys(t[1]), v(t[2]), values(t[3]);
  CHECK_THROWS_WITH_AS(F::additive_attention(q, keys, v, values, {2, 0, 1}),
                       doctest::Contains("length 0 of row 1"), Error);
  CHECK_THROWS_WITH_AS(F::additive_attention(q, keys, v, values, {2, 5, 1}),
                       doctest::Contains("outside [1, 4]"), Error);
  CHECK_THROWS_WITH_AS(F::additive_attention(q, keys, v, values, {2, 3}),
                       doctest::Contains("2 lengths for a batch of 3"), Error);
  CHECK_THROWS_WITH_AS(F::additive_attention(q, keys, Variable(randn({A + 1}, kFloat64, &gen)),
                                             values, kRaggedLengths),
                       doctest::Contains("additive_attention: shapes do not agree"), Error);
  CHECK_THROWS_WITH_AS(F::additive_attention(q, keys.select(0, 0), v, values, kRaggedLengths),
                       doctest::Contains("keys [B, S, A]"), Error);
  CHECK_THROWS_WITH_AS(
      F::additive_attention(Variable(t[0].to(kFloat32)), keys, v, values, kRaggedLengths),
      doctest::Contains("one floating dtype"), Error);
}
