// The fused teacher-forced attention decoder (nn::functional::attention_gru_decoder): gradcheck in
// float64, agreement with the same recurrence composed step by step from separately tested ops
// (linear, additive_attention, gru_sequence), float32 against float64, thread counts, errors.
#include <functional>
#include <vector>

#include "nn/nn_test_util.h"
#include "tensor/parallel.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

using Vars = std::vector<Variable>;

namespace {

struct Sizes {
  std::int64_t T, B, H, S, A, D;
};
constexpr Sizes kSmall{3, 3, 2, 4, 3, 5};
const std::vector<std::int64_t> kRagged = {2, 4, 1};

// gx_e, s0, w_q, keys, v, values, w_c, w_hh, b_hh
std::vector<Tensor> inputs(const Sizes& n, DType dtype, Generator& gen, double scale = 0.5) {
  auto r = [&](const Dims& shape) { return randn(shape, dtype, &gen) * scale; };
  return {r({n.T, n.B, 3 * n.H}), r({n.B, n.H}),     r({n.A, n.H}),
          r({n.B, n.S, n.A}),     r({n.A}),          r({n.B, n.S, n.D}),
          r({3 * n.H, n.D}),      r({3 * n.H, n.H}), r({3 * n.H})};
}

Variable fused(const Vars& x, const std::vector<std::int64_t>& lengths) {
  return F::attention_gru_decoder(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], lengths);
}

// The same recurrence, one step at a time, from ops with their own tests.
Variable composed(const Vars& x, const std::vector<std::int64_t>& lengths) {
  Variable s = x[1];
  std::vector<Variable> rows;
  for (std::int64_t t = 0; t < x[0].size(0); ++t) {
    const Variable c = F::additive_attention(F::linear(s, x[2]), x[3], x[4], x[5], lengths);
    const Variable gx = x[0].select(0, t) + F::linear(c, x[6]);
    s = F::gru_sequence(gx.unsqueeze(0), s, x[7], x[8]).state[0];
    rows.push_back(cat({s, c}, 1));
  }
  return stack(rows, 0);
}

}  // namespace

TEST_CASE("gradcheck: attention_gru_decoder") {
  Generator gen(91);
  for (const auto& lengths : {std::vector<std::int64_t>{4, 4, 4}, kRagged}) {
    CAPTURE(lengths[0]);
    CHECK_GRADCHECK([&](const Vars& v) { return fused(v, lengths); },
                    inputs(kSmall, kFloat64, gen));
  }
}

TEST_CASE("attention_gru_decoder: output and gradients equal the steps composed (float64)") {
  Generator gen(92);
  const Sizes n{5, 3, 4, 4, 3, 6};
  const std::vector<Tensor> in = inputs(n, kFloat64, gen, 1.0);
  const Tensor weights = randn({n.T, n.B, n.H + n.D}, kFloat64, &gen);
  for (const auto& lengths : {std::vector<std::int64_t>{4, 4, 4}, kRagged}) {
    CAPTURE(lengths[0]);
    const auto got =
        output_and_grads(in, weights, [&](const Vars& v) { return fused(v, lengths); });
    const auto want =
        output_and_grads(in, weights, [&](const Vars& v) { return composed(v, lengths); });
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      expect_close(got[i], want[i], 1e-10, 1e-12);
    }
  }
}

TEST_CASE("attention_gru_decoder: float32 agrees with float64") {
  Generator gen(93);
  const std::vector<Tensor> in64 = inputs(kSmall, kFloat64, gen);
  std::vector<Tensor> in32;
  for (const Tensor& t : in64) in32.push_back(t.to(kFloat32));
  const Tensor weights = randn({kSmall.T, kSmall.B, kSmall.H + kSmall.D}, kFloat64, &gen);
  auto op = [&](const Vars& v) { return fused(v, kRagged); };
  const auto r64 = output_and_grads(in64, weights, op);
  const auto r32 = output_and_grads(in32, weights.to(kFloat32), op);
  for (std::size_t i = 0; i < r64.size(); ++i) {
    CAPTURE(i);
    expect_close(r32[i], r64[i], 1e-4, 1e-5);
  }
}

TEST_CASE("attention_gru_decoder: 1, 2 and 3 threads give the same output and gradients") {
  RestoreOneThread restore;
  Generator gen(94);
  // The attention rows are split over threads only when B * S * (A + D) >= 2^17 (33 rows split
  // unevenly); float64, so the one sum whose order changes (dv) differs far below 1e-12.
  const Sizes n{3, 33, 8, 16, 64, 192};
  std::vector<std::int64_t> lengths;
  for (std::int64_t b = 0; b < n.B; ++b) lengths.push_back(1 + (b * 7) % n.S);
  const std::vector<Tensor> in = inputs(n, kFloat64, gen);
  const Tensor weights = randn({n.T, n.B, n.H + n.D}, kFloat64, &gen);
  auto op = [&](const Vars& v) { return fused(v, lengths); };
  set_num_threads(1);
  const auto one = output_and_grads(in, weights, op);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    set_num_threads(threads);
    const auto many = output_and_grads(in, weights, op);
    for (std::size_t i = 0; i < one.size(); ++i) {
      CAPTURE(i);
      expect_close(many[i], one[i], 1e-12, 1e-14);
    }
  }
}

TEST_CASE("attention_gru_decoder: with only some inputs requiring grad, their gradients agree") {
  Generator gen(96);
  const std::vector<Tensor> in = inputs(kSmall, kFloat64, gen);
  const Tensor weights = randn({kSmall.T, kSmall.B, kSmall.H + kSmall.D}, kFloat64, &gen);
  const auto all = output_and_grads(in, weights, [](const Vars& v) { return fused(v, kRagged); });
  // Each input alone, then the other inputs alone: every skipped branch of the backward is taken.
  for (std::size_t only = 0; only < in.size(); ++only) {
    CAPTURE(only);
    Vars leaves;
    for (std::size_t i = 0; i < in.size(); ++i) leaves.emplace_back(in[i].clone(), i == only);
    sum(fused(leaves, kRagged) * Variable(weights)).backward();
    expect_close(leaves[only].grad(), all[only + 1], 0.0, 0.0);
    for (std::size_t i = 0; i < in.size(); ++i)
      if (i != only) CHECK_FALSE(leaves[i].grad().defined());
  }
}

TEST_CASE("attention_gru_decoder: bad shapes, dtypes and lengths are errors naming the op") {
  Generator gen(95);
  const std::vector<Tensor> t = inputs(kSmall, kFloat64, gen);
  Vars x(t.begin(), t.end());
  CHECK_THROWS_WITH_AS(fused(x, {2, 0, 1}), doctest::Contains("length 0 of row 1"), Error);
  CHECK_THROWS_WITH_AS(fused(x, {2, 5, 1}), doctest::Contains("outside [1, 4]"), Error);
  CHECK_THROWS_WITH_AS(fused(x, {2, 3}), doctest::Contains("2 lengths for a batch of 3"), Error);
  Vars wrong_wc = x;
  wrong_wc[6] = Variable(randn({3 * kSmall.H, kSmall.D + 1}, kFloat64, &gen));
  CHECK_THROWS_WITH_AS(fused(wrong_wc, kRagged),
                       doctest::Contains("attention_gru_decoder: shapes do not agree"), Error);
  Vars flat = x;
  flat[3] = x[3].select(0, 0);
  CHECK_THROWS_WITH_AS(fused(flat, kRagged), doctest::Contains("keys [B, S, A]"), Error);
  Vars no_steps = x;
  no_steps[0] = Variable(Tensor::empty({0, kSmall.B, 3 * kSmall.H}, kFloat64));
  CHECK_THROWS_WITH_AS(fused(no_steps, kRagged), doctest::Contains("no steps (T = 0)"), Error);
  Vars mixed = x;
  mixed[1] = Variable(t[1].to(kFloat32));
  CHECK_THROWS_WITH_AS(fused(mixed, kRagged), doctest::Contains("one floating dtype"), Error);
}
