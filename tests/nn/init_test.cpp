// Initialisers (nn/init.h) and the layers' default initialisation: bounds, empirical moments on
// large tensors, orthogonality, and PyTorch's defaults for Linear, Conv, Embedding and LayerNorm.
#include <cmath>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

double max_abs(const Tensor& t) { return amax(abs(t.to(kFloat64))).item(); }
double mean_of(const Tensor& t) { return mean(t.to(kFloat64)).item(); }
double variance(const Tensor& t) {
  const Tensor x = t.to(kFloat64);
  const Tensor c = x - mean(x);
  return mean(c * c).item();
}

double relative_error(double got, double expected) { return std::abs(got / expected - 1.0); }

// U(-bound, bound) drawn n >= 20000 times: every draw within the bound and the largest close to
// it; the mean (standard error bound / sqrt(3 n)) and the variance bound^2 / 3 (relative standard
// error sqrt(0.8 / n)) within about 5 standard errors.
void check_uniform(const Tensor& t, double bound) {
  REQUIRE(t.numel() >= 20000);
  CHECK(max_abs(t) <= bound);
  CHECK(max_abs(t) > 0.99 * bound);
  CHECK(std::abs(mean_of(t)) < 0.02 * bound);
  CHECK(relative_error(variance(t), bound * bound / 3) < 0.03);
}

}  // namespace

TEST_CASE("init: fans of linear and convolution weights") {
  CHECK(nn::init::fans(empty({30, 20})) == std::pair<std::int64_t, std::int64_t>{20, 30});
  CHECK(nn::init::fans(empty({8, 4, 3, 5})) == std::pair<std::int64_t, std::int64_t>{60, 120});
  CHECK_THROWS_WITH_AS(nn::init::fans(empty({7})), doctest::Contains("[7]"), Error);
}

TEST_CASE("init: xavier_uniform_ bound and variance") {
  Generator gen(61);
  const Tensor w = empty({400, 600}, kFloat64);
  CHECK(&nn::init::xavier_uniform_(w, 1.0, &gen) == &w);
  check_uniform(w, std::sqrt(6.0 / 1000));  // variance 2 / (fan_in + fan_out)
  nn::init::xavier_uniform_(w, 2.0, &gen);
  check_uniform(w, 2.0 * std::sqrt(6.0 / 1000));
  const Tensor conv = empty({96, 32, 3, 3});  // fan_in 288, fan_out 864
  nn::init::xavier_uniform_(conv, 1.0, &gen);
  check_uniform(conv, std::sqrt(6.0 / (288 + 864)));
}

TEST_CASE("init: kaiming_uniform_ bound and variance") {
  Generator gen(62);
  const Tensor w = empty({300, 500}, kFloat64);
  nn::init::kaiming_uniform_(w, 0.0, &gen);
  check_uniform(w, std::sqrt(6.0 / 500));  // variance 2 / fan_in (He et al.)
  // a = sqrt(5), PyTorch's Linear default: the bound is 1 / sqrt(fan_in).
  nn::init::kaiming_uniform_(w, std::sqrt(5.0), &gen);
  check_uniform(w, 1.0 / std::sqrt(500.0));
  const Tensor conv = empty({128, 16, 5, 5});  // fan_in 400
  nn::init::kaiming_uniform_(conv, 0.0, &gen);
  check_uniform(conv, std::sqrt(6.0 / 400));
}

TEST_CASE("init: orthogonal_ gives orthonormal rows or columns") {
  Generator gen(63);
  SUBCASE("rows <= cols: W W^T = I") {
    const Tensor w = empty({5, 9}, kFloat64);
    nn::init::orthogonal_(w, 1.0, &gen);
    expect_close(matmul(w, w.t()), eye(5, kFloat64), 0.0, 1e-12);
  }
  SUBCASE("rows > cols: W^T W = I") {
    const Tensor w = empty({9, 4}, kFloat64);
    nn::init::orthogonal_(w, 1.0, &gen);
    expect_close(matmul(w.t(), w), eye(4, kFloat64), 0.0, 1e-12);
  }
  SUBCASE("square: both") {
    const Tensor w = empty({6, 6}, kFloat64);
    nn::init::orthogonal_(w, 1.0, &gen);
    expect_close(matmul(w, w.t()), eye(6, kFloat64), 0.0, 1e-12);
    expect_close(matmul(w.t(), w), eye(6, kFloat64), 0.0, 1e-12);
  }
  SUBCASE("gain scales it") {
    const Tensor w = empty({3, 7}, kFloat64);
    nn::init::orthogonal_(w, 2.0, &gen);
    expect_close(matmul(w, w.t()), eye(3, kFloat64) * 4.0, 0.0, 1e-12);
  }
  SUBCASE("float32 and a 4-D weight, flattened to [rows, rest]") {
    const Tensor w = empty({4, 2, 2, 3});
    nn::init::orthogonal_(w, 1.0, &gen);
    const Tensor m = w.reshape({4, 12});
    CHECK(allclose(matmul(m, m.t()), eye(4), 1e-5, 1e-5));
  }
  SUBCASE("a large tall matrix stays orthonormal") {
    const Tensor w = empty({200, 50}, kFloat64);
    nn::init::orthogonal_(w, 1.0, &gen);
    expect_close(matmul(w.t(), w), eye(50, kFloat64), 0.0, 1e-10);
  }
  CHECK_THROWS_WITH_AS(nn::init::orthogonal_(empty({5}), 1.0, &gen),
                       doctest::Contains("orthogonal_"), Error);
}

TEST_CASE("init: fills and reproducibility") {
  const Tensor t = empty({3, 4}, kFloat64);
  nn::init::zeros_(t);
  expect_values(t, {3, 4}, std::vector<double>(12, 0.0));
  nn::init::ones_(t);
  expect_values(t, {3, 4}, std::vector<double>(12, 1.0));
  Generator g1(7), g2(7);
  const Tensor a = empty({100, 100}, kFloat64), b = empty({100, 100}, kFloat64);
  nn::init::uniform_(a, -2.0, 3.0, &g1);
  nn::init::uniform_(b, -2.0, 3.0, &g2);
  expect_close(a, b, 0.0, 0.0);
  CHECK(amin(a).item() >= -2.0);
  CHECK(amax(a).item() < 3.0);
  nn::init::normal_(a, 1.5, 0.5, &g1);
  CHECK(std::abs(mean_of(a) - 1.5) < 0.025);  // 10000 draws: standard error 0.005
  CHECK(relative_error(std::sqrt(variance(a)), 0.5) < 0.03);
}

TEST_CASE("init: Linear, Conv2d and Conv1d defaults are U(-1/sqrt(fan_in), 1/sqrt(fan_in))") {
  Generator gen(64);
  SUBCASE("Linear") {
    nn::Linear layer(400, 300, true, kFloat64, &gen);
    CHECK(layer.weight.shape() == Dims{300, 400});
    CHECK(layer.bias.shape() == Dims{300});
    check_uniform(layer.weight.value(), 1.0 / std::sqrt(400.0));
    CHECK(max_abs(layer.bias.value()) <= 1.0 / std::sqrt(400.0));
    CHECK(max_abs(layer.bias.value()) > 0.9 / std::sqrt(400.0));
    CHECK(layer.weight.requires_grad());
    CHECK(layer.weight.dtype() == kFloat64);
    CHECK(nn::Linear(3, 2).weight.dtype() == kFloat32);
  }
  SUBCASE("Conv2d") {
    nn::Conv2d layer(16, 64, 5, 1, 0, 1, true, kFloat64, &gen);  // fan_in 16 * 5 * 5 = 400
    CHECK(layer.weight.shape() == Dims{64, 16, 5, 5});
    check_uniform(layer.weight.value(), 1.0 / 20);
    CHECK(max_abs(layer.bias.value()) <= 1.0 / 20);
    CHECK(max_abs(layer.bias.value()) > 0.8 / 20);
  }
  SUBCASE("Conv1d") {
    nn::Conv1d layer(25, 200, 4, 1, 0, 1, true, kFloat64, &gen);  // fan_in 100
    CHECK(layer.weight.shape() == Dims{200, 25, 4});
    check_uniform(layer.weight.value(), 0.1);
    CHECK(max_abs(layer.bias.value()) <= 0.1);
  }
  SUBCASE("the same generator seed gives the same weights") {
    Generator a(5), b(5);
    nn::Linear la(6, 4, true, kFloat64, &a), lb(6, 4, true, kFloat64, &b);
    expect_close(la.weight.value(), lb.weight.value(), 0.0, 0.0);
    expect_close(la.bias.value(), lb.bias.value(), 0.0, 0.0);
  }
}

TEST_CASE("init: Embedding is N(0, 1) with the padding row zero") {
  Generator gen(65);
  nn::Embedding emb(1000, 100, 7, kFloat64, &gen);
  const Tensor w = emb.weight.value();
  expect_values(w.select(0, 7), {100}, std::vector<double>(100, 0.0));
  CHECK(std::abs(mean_of(w)) < 0.015);  // 99900 draws: standard error 0.0032
  CHECK(relative_error(variance(w), 1.0) < 0.025);
  nn::Embedding last(10, 4, -1, kFloat64, &gen);
  CHECK(last.padding_idx == 9);
  expect_values(last.weight.value().select(0, 9), {4}, {0, 0, 0, 0});
  CHECK(sum(abs(last.weight.value().select(0, 0))).item() > 0);
}

TEST_CASE("init: LayerNorm starts as weight 1, bias 0") {
  nn::LayerNorm norm({3, 4}, 1e-5, true, kFloat64);
  expect_values(norm.weight.value(), {3, 4}, std::vector<double>(12, 1.0));
  expect_values(norm.bias.value(), {3, 4}, std::vector<double>(12, 0.0));
  CHECK(norm.weight.dtype() == kFloat64);
  CHECK(norm.num_parameters() == 24);
  nn::LayerNorm plain({4}, 1e-5, false);
  CHECK_FALSE(plain.weight.defined());
  CHECK(plain.parameters().empty());
}
