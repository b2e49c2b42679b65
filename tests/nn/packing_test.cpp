// pack_padded, pad_packed and packed_linear: values written out by hand, gradients by finite
// differences, and packed_linear against linear with the padding zeroed by a loop in the test.
#include <string>
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

using Vars = std::vector<Variable>;

TEST_CASE(
    "pack_padded keeps the live positions in time-major order and pad_packed puts them back") {
  // T = 3, B = 2, one value per position: x[t, b] = 10 t + b; sequence 0 has 3 steps, sequence 1
  // has 1.
  const Tensor x = f64({0, 1, 10, 11, 20, 21}, {3, 2, 1});
  const std::vector<std::int64_t> lengths{3, 1};
  const Variable packed = F::pack_padded(Variable(x), lengths);
  CHECK(packed.shape() == Dims{4, 1});
  CHECK(packed.value().to_vector<double>() == std::vector<double>{0, 1, 10, 20});
  const Variable padded = F::pad_packed(packed, lengths, 3);
  CHECK(padded.shape() == Dims{3, 2, 1});
  CHECK(padded.value().to_vector<double>() == std::vector<double>{0, 1, 10, 0, 20, 0});
  // A longer total length pads every sequence further; a sequence of length 0 is all padding.
  const Variable longer = F::pad_packed(Variable(f64({5, 6}, {2})), {0, 2}, 3);
  CHECK(longer.value().to_vector<double>() == std::vector<double>{0, 5, 0, 6, 0, 0});
}

TEST_CASE("gradcheck: pack_padded, pad_packed and packed_linear") {
  Generator gen(41);
  const std::vector<std::int64_t> ragged{4, 1, 0, 3};
  CHECK_GRADCHECK([&](const Vars& v) { return F::pack_padded(v[0], ragged); },
                  {normal64({4, 4, 3}, gen)});
  CHECK_GRADCHECK([&](const Vars& v) { return F::pad_packed(v[0], ragged, 5); },
                  {normal64({8, 2, 2}, gen)});
  CHECK_GRADCHECK([&](const Vars& v) { return F::packed_linear(v[0], v[1], v[2], ragged); },
                  {normal64({4, 4, 3}, gen), normal64({5, 3}, gen), normal64({5}, gen)});
  CHECK_GRADCHECK([&](const Vars& v) { return F::packed_linear(v[0], v[1], {}, ragged); },
                  {normal64({4, 4, 3}, gen), normal64({5, 3}, gen)});
}

TEST_CASE("packed_linear is linear with the padding's outputs zero and no gradient through it") {
  Generator gen(42);
  const std::int64_t T = 5, B = 3, I = 4, O = 6;
  const std::vector<std::int64_t> lengths{2, 5, 3};
  const Tensor x = normal64({T, B, I}, gen), w = normal64({O, I}, gen), b = normal64({O}, gen);
  const Tensor weights = normal64({T, B, O}, gen);
  const auto got = output_and_grads({x, w, b}, weights, [&](const Vars& v) {
    return F::packed_linear(v[0], v[1], v[2], lengths);
  });
  // The reference: linear over every position, then a mask built by a loop over (t, b).
  std::vector<double> mask;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t s = 0; s < B; ++s)
      mask.push_back(t < lengths[static_cast<std::size_t>(s)] ? 1.0 : 0.0);
  const Tensor m = f64(mask, {T, B, 1});
  const auto want = output_and_grads(
      {x, w, b}, weights, [&](const Vars& v) { return F::linear(v[0], v[1], v[2]) * Variable(m); });
  for (std::size_t k = 0; k < want.size(); ++k) {
    CAPTURE(k);
    expect_close(got[k], want[k], 1e-12, 1e-12);
  }
  // Float32 takes the same path.
  const Variable y32 = F::packed_linear(Variable(x.to(kFloat32)), Variable(w.to(kFloat32)),
                                        Variable(b.to(kFloat32)), lengths);
  expect_close(y32.value(), want[0], 1e-5, 1e-5);
}

TEST_CASE("packed_linear without padding or lengths is linear") {
  Generator gen(43);
  const Tensor x = normal64({3, 2, 4}, gen), w = normal64({5, 4}, gen);
  const Tensor want = F::linear(Variable(x), Variable(w)).value();
  expect_close(F::packed_linear(Variable(x), Variable(w), {}, {}).value(), want, 0, 0);
  expect_close(F::packed_linear(Variable(x), Variable(w), {}, {3, 3}).value(), want, 0, 0);
}

TEST_CASE("pack_padded, pad_packed and packed_linear name the op and the shapes in their errors") {
  const Variable x(zeros({3, 2, 4}, kFloat64));
  const Variable w(zeros({5, 4}, kFloat64));
  CHECK_THROWS_WITH_AS(F::pack_padded(x, {3}),
                       doctest::Contains("pack_padded: 1 lengths given for a batch of 2 sequences"),
                       Error);
  CHECK_THROWS_WITH_AS(
      F::pack_padded(x, {3, 4}),
      doctest::Contains("pack_padded: length 4 of sequence 1 is outside [0, 3] (T = 3)"), Error);
  CHECK_THROWS_WITH_AS(F::pack_padded(Variable(zeros({3}, kFloat64)), {1}),
                       doctest::Contains("pack_padded: input must be [T, B, ...], got shape [3]"),
                       Error);
  CHECK_THROWS_WITH_AS(
      F::pad_packed(Variable(zeros({4, 2}, kFloat64)), {3, 2}, 3),
      doctest::Contains("pad_packed: input of shape [4, 2] has 4 rows, the lengths hold 5"), Error);
  CHECK_THROWS_WITH_AS(F::pad_packed(Variable(zeros({4, 2}, kFloat64)), {3, 1}, -1),
                       doctest::Contains("pad_packed: total_length must be non-negative, got -1"),
                       Error);
  CHECK_THROWS_WITH_AS(
      F::packed_linear(Variable(zeros({3, 4}, kFloat64)), w, {}, {3, 3}),
      doctest::Contains("packed_linear: input must be [T, B, in], got shape [3, 4]"), Error);
  CHECK_THROWS_WITH_AS(
      F::packed_linear(x, w, {}, {-1, 3}),
      doctest::Contains("packed_linear: length -1 of sequence 0 is outside [0, 3] (T = 3)"), Error);
  CHECK_THROWS_WITH_AS(F::packed_linear(x, Variable(zeros({5, 3}, kFloat64)), {}, {1, 3}),
                       doctest::Contains("linear: input of shape"), Error);
}
