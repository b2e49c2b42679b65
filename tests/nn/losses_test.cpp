// Loss values and gradients: against PyTorch through tests/fixtures/nn.json, by hand, and against
// each other (cross_entropy = nll_loss of log_softmax).
#include <cmath>
#include <limits>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;
using F::Reduction;

TEST_CASE("fixtures: losses match PyTorch 1.13 to 1e-10") {
  const std::set<std::string> ops = {"cross_entropy", "nll_loss", "mse_loss",
                                     "binary_cross_entropy_with_logits"};
  CHECK(check_fixture_cases(ops) == ops);
}

TEST_CASE("cross_entropy: uniform logits give ln C for every reduction and smoothing") {
  const std::int64_t N = 4, C = 5;
  const Variable logits(zeros({N, C}, kFloat64), true);
  const Tensor target = i64({0, 4, 2, 2}, {N});
  CHECK(F::cross_entropy(logits, target).item() == doctest::Approx(std::log(5.0)).epsilon(1e-14));
  CHECK(F::cross_entropy(logits, target, Reduction::Sum).item() ==
        doctest::Approx(4 * std::log(5.0)).epsilon(1e-14));
  expect_values(F::cross_entropy(logits, target, Reduction::None).value(), {N},
                std::vector<double>(N, std::log(5.0)), 1e-14);
  CHECK(F::cross_entropy(logits, target, Reduction::Mean, -100, 0.3).item() ==
        doctest::Approx(std::log(5.0)).epsilon(1e-14));

  // d/dlogits of the mean: (softmax - onehot) / N = (1/C - onehot) / N.
  F::cross_entropy(logits, target).backward();
  std::vector<double> expected(N * C, 0.2 / N);
  for (std::int64_t i = 0; i < N; ++i)
    expected[i * C + target.to_vector<std::int64_t>()[i]] -= 1.0 / N;
  expect_values(logits.grad(), {N, C}, expected, 1e-14);
}

TEST_CASE("cross_entropy: one row by hand, with and without label smoothing") {
  // softmax([ln 1, ln 2, ln 3]) = [1/6, 2/6, 3/6]
  const Variable logits(f64({0, std::log(2.0), std::log(3.0)}, {1, 3}), true);
  const Tensor target = i64({2}, {1});
  CHECK(F::cross_entropy(logits, target).item() == doctest::Approx(std::log(2.0)).epsilon(1e-14));
  // (1 - e) (-ln p_t) + e/C sum_c (-ln p_c)
  const double e = 0.3;
  const double smoothed =
      (1 - e) * std::log(2.0) + e / 3 * (std::log(6.0) + std::log(3.0) + std::log(2.0));
  const Variable loss = F::cross_entropy(logits, target, Reduction::Mean, -100, e);
  CHECK(loss.item() == doctest::Approx(smoothed).epsilon(1e-14));
  loss.backward();
  // softmax - (1 - e) onehot - e/C
  expect_values(logits.grad(), {1, 3}, {1.0 / 6 - 0.1, 2.0 / 6 - 0.1, 0.5 - 0.7 - 0.1}, 1e-14);
}

TEST_CASE("cross_entropy: 1-D logits with a 0-d target give a 0-d loss") {
  const Variable logits(f64({0, std::log(2.0), std::log(3.0)}, {3}), true);
  const Tensor target = from_vector(std::vector<std::int64_t>{1}, {1}).reshape({});
  const Variable loss = F::cross_entropy(logits, target, Reduction::None);
  CHECK(loss.dim() == 0);
  CHECK(loss.item() == doctest::Approx(std::log(3.0)).epsilon(1e-14));
}

TEST_CASE("cross_entropy: stable for huge logits") {
  const Variable logits(f64({1000, 0, -1000, 0, 1000, 999}, {2, 3}), true);
  const Variable loss = F::cross_entropy(logits, i64({1, 1}, {2}), Reduction::None);
  // lse - x[t] = (1000 + log(...)) - 1000 loses about 1000 ulp: no tighter than 1e-12.
  expect_values(loss.value(), {2}, {1000, std::log(1 + std::exp(-1.0))}, 1e-12);
  sum(loss).backward();
  CHECK(all_finite(logits.grad()));
}

TEST_CASE("cross_entropy: ignored targets add nothing, get no gradient and are not counted") {
  Generator gen(21);
  const Tensor x = normal64({5, 4}, gen);
  const Tensor target = i64({3, -100, 1, 2, -100}, {5});
  const Tensor kept_rows = i64({0, 2, 3}, {3});
  const Tensor kept_target = i64({3, 1, 2}, {3});
  for (double smoothing : {0.0, 0.2}) {
    INFO("label_smoothing ", smoothing);
    const Variable all(x, true), kept(index_select(x, 0, kept_rows), true);
    const Variable loss = F::cross_entropy(all, target, Reduction::Mean, -100, smoothing);
    const Variable ref = F::cross_entropy(kept, kept_target, Reduction::Mean, -100, smoothing);
    CHECK(loss.item() == doctest::Approx(ref.item()).epsilon(1e-14));  // divided by 3, not 5
    loss.backward();
    ref.backward();
    expect_values(all.grad().select(0, 1), {4}, {0, 0, 0, 0});
    expect_values(all.grad().select(0, 4), {4}, {0, 0, 0, 0});
    expect_close(index_select(all.grad(), 0, kept_rows), kept.grad());
    const Tensor per = F::cross_entropy(all, target, Reduction::None, -100, smoothing).value();
    CHECK(per.to_vector<double>()[1] == 0.0);
    CHECK(per.to_vector<double>()[4] == 0.0);
    CHECK(sum(per).item() ==
          doctest::Approx(F::cross_entropy(all, target, Reduction::Sum, -100, smoothing).item()));
  }
}

TEST_CASE("cross_entropy: a custom ignore_index may be a valid class") {
  Generator gen(22);
  const Variable x(normal64({4, 3}, gen));
  const Tensor target = i64({0, 2, 2, 1}, {4});
  const double got = F::cross_entropy(x, target, Reduction::Sum, /*ignore_index=*/2).item();
  const double ref = F::cross_entropy(x, target, Reduction::None).value().to_vector<double>()[0] +
                     F::cross_entropy(x, target, Reduction::None).value().to_vector<double>()[3];
  CHECK(got == doctest::Approx(ref).epsilon(1e-14));
}

TEST_CASE("cross_entropy: the mean over only ignored targets is NaN, as in PyTorch") {
  const Variable x(zeros({2, 3}, kFloat64), true);
  const Tensor target = i64({-100, -100}, {2});
  CHECK(std::isnan(F::cross_entropy(x, target).item()));
  CHECK(F::cross_entropy(x, target, Reduction::Sum).item() == 0.0);
}

TEST_CASE("cross_entropy equals nll_loss of log_softmax") {
  Generator gen(23);
  const Tensor x = normal64({6, 5}, gen);
  const Tensor target = i64({4, 0, -100, 2, 2, 1}, {6});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    INFO("reduction ", static_cast<int>(r));
    const Variable a(x, true), b(x, true);
    const Variable ce = F::cross_entropy(a, target, r);
    const Variable nll = F::nll_loss(log_softmax(b, 1), target, r);
    expect_close(ce.value(), nll.value(), 1e-13);
    sum(ce).backward();
    sum(nll).backward();
    expect_close(a.grad(), b.grad(), 1e-12, 1e-14);
  }
}

TEST_CASE("cross_entropy: N x C x d logits equal (N*d) x C rows") {
  Generator gen(24);
  const Tensor x = normal64({2, 4, 3}, gen);  // N=2, C=4, d=3
  const Tensor target = i64({0, 3, -100, 2, 1, 1}, {2, 3});
  const Tensor rows = x.permute({0, 2, 1}).reshape({6, 4});  // row n*3 + j holds x[n, :, j]
  const Variable a(x, true), b(rows, true);
  const Variable per = F::cross_entropy(a, target, Reduction::None, -100, 0.1);
  CHECK(per.shape() == Dims{2, 3});
  expect_close(per.value().reshape({6}),
               F::cross_entropy(b, target.reshape({6}), Reduction::None, -100, 0.1).value());
  F::cross_entropy(a, target, Reduction::Mean, -100, 0.1).backward();
  F::cross_entropy(b, target.reshape({6}), Reduction::Mean, -100, 0.1).backward();
  expect_close(a.grad().permute({0, 2, 1}).reshape({6, 4}), b.grad());
}

TEST_CASE("nll_loss: by hand, with ignore_index, and with a non-contiguous target") {
  const Variable lp(f64({-1, -2, -3, -4, -5, -6}, {3, 2}), true);
  CHECK(F::nll_loss(lp, i64({1, 0, 1}, {3})).item() == doctest::Approx(11.0 / 3));
  CHECK(F::nll_loss(lp, i64({1, 0, 1}, {3}), Reduction::Sum).item() == 11.0);
  CHECK(F::nll_loss(lp, i64({1, -100, 1}, {3})).item() == 4.0);  // (2 + 6) / 2
  expect_values(F::nll_loss(lp, i64({1, 0, 0}, {3}), Reduction::None, /*ignore_index=*/0).value(),
                {3}, {2, 0, 0});
  const Variable loss = F::nll_loss(lp, i64({1, -100, 0}, {3}));
  loss.backward();
  expect_values(lp.grad(), {3, 2}, {0, -0.5, 0, 0, -0.5, 0});

  // Every other element of a longer tensor: a strided view, whose values must be read through
  // its strides (and kept alive while they are read).
  const Tensor strided = i64({1, 7, 0, 7, 1, 7}, {6}).slice(0, 0, 6, 2);
  REQUIRE_FALSE(strided.is_contiguous());
  CHECK(F::nll_loss(lp, strided, Reduction::Sum).item() == 2.0 + 3.0 + 6.0);
  const Tensor bad = i64({1, 0, 0, 0, 5, 0}, {6}).slice(0, 0, 6, 2);
  CHECK_THROWS_WITH_AS(F::nll_loss(lp, bad), doctest::Contains("target 5 at position 2"), Error);
}

TEST_CASE("mse_loss: by hand") {
  const Variable x(f64({1, 2, 3}, {3}), true), t(f64({1, 1, 1}, {3}), true);
  CHECK(F::mse_loss(x, t).item() == doctest::Approx(5.0 / 3));
  CHECK(F::mse_loss(x, t, Reduction::Sum).item() == 5.0);
  expect_values(F::mse_loss(x, t, Reduction::None).value(), {3}, {0, 1, 4});
  F::mse_loss(x, t).backward();
  expect_values(x.grad(), {3}, {0, 2.0 / 3, 4.0 / 3});  // 2 (x - t) / n
  expect_values(t.grad(), {3}, {0, -2.0 / 3, -4.0 / 3});
}

TEST_CASE("binary_cross_entropy_with_logits: by hand and stable for huge logits") {
  // Logit 0 is probability 1/2 whatever the target: the loss is ln 2.
  const Variable zero(zeros({3}, kFloat64));
  expect_values(
      F::binary_cross_entropy_with_logits(zero, Variable(f64({0, 0.3, 1}, {3})), Reduction::None)
          .value(),
      {3}, std::vector<double>(3, std::log(2.0)), 1e-14);
  // -[t log s(x) + (1 - t) log(1 - s(x))] for moderate logits.
  Generator gen(25);
  const Tensor x = normal64({4, 3}, gen), t = rand({4, 3}, kFloat64, &gen);
  const Tensor s = sigmoid(x);
  const Tensor naive = -(t * log(s) + (1.0 - t) * log(1.0 - s));
  expect_close(
      F::binary_cross_entropy_with_logits(Variable(x), Variable(t), Reduction::None).value(), naive,
      1e-12);
  CHECK(F::binary_cross_entropy_with_logits(Variable(x), Variable(t)).item() ==
        doctest::Approx(mean(naive).item()).epsilon(1e-12));
  // Where the naive formula overflows, the stable one gives the limit.
  const Variable big(f64({1000, -1000, 1000, -1000}, {4}), true);
  const Variable loss =
      F::binary_cross_entropy_with_logits(big, Variable(f64({1, 1, 0, 0}, {4})), Reduction::None);
  expect_values(loss.value(), {4}, {0, 1000, 1000, 0});
  sum(loss).backward();
  expect_values(big.grad(), {4}, {0, -1, 1, 0});  // sigmoid(x) - t
}
