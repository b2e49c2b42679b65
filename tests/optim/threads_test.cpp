// Threads change nothing but speed in the optimisers and clip_grad_norm_: the updates are
// elementwise and the norm is summed in fixed blocks combined in order, so 1, 2 and 3 threads give
// the same bits. The parameters are large enough (> 64K values) for the work to be split, and a
// parameter is cut between two threads. Adam is also checked against the update written out in
// float64 here, and the infinity norm against the largest magnitude (NaN included).
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "optim/all.h"
#include "optim_fixture.h"
#include "tensor/parallel.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// Three parameters (float32 70,001 values, float64 3, float32 40,000): fresh values and gradients
// from a fixed seed, the same for every call.
std::vector<Variable> large_params() {
  Generator gen(7);
  std::vector<Variable> params;
  for (const auto& [n, dtype] : std::vector<std::pair<std::int64_t, DType>>{
           {70001, kFloat32}, {3, kFloat64}, {40000, kFloat32}}) {
    Variable p(randn({n}, dtype, &gen), true);
    params.push_back(p);
  }
  return params;
}

void set_grads(const std::vector<Variable>& params, std::uint64_t seed) {
  Generator gen(seed);
  for (const Variable& p : params) p.set_grad(randn(p.shape(), p.dtype(), &gen));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.numel() == b.numel() &&
         std::memcmp(a.raw_data(), b.raw_data(),
                     static_cast<std::size_t>(a.numel()) * itemsize(a.dtype())) == 0;
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Variable>)>;

// The parameters after three steps (each on fresh gradients, clipped to norm 50) at `threads`.
std::vector<Tensor> train(const MakeOptimizer& make, int threads) {
  set_num_threads(threads);
  const auto params = large_params();
  auto opt = make(params);
  for (std::uint64_t step = 0; step < 3; ++step) {
    set_grads(params, 100 + step);
    optim::clip_grad_norm_(params, 50.0);
    opt->step();
  }
  set_num_threads(1);
  std::vector<Tensor> out;
  for (const Variable& p : params) out.push_back(p.value().clone());
  return out;
}

}  // namespace

TEST_CASE("optimizers give the same bits with 1, 2 and 3 threads") {
  const std::vector<std::pair<const char*, MakeOptimizer>> cases = {
      {"Adam", [](auto p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions{}); }},
      {"Adam amsgrad, weight decay",
       [](auto p) {
         return std::make_unique<optim::Adam>(
             p, optim::AdamOptions{.weight_decay = 0.01, .amsgrad = true});
       }},
      {"AdamW",
       [](auto p) {
         return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.weight_decay = 0.1});
       }},
      {"SGD nesterov",
       [](auto p) {
         return std::make_unique<optim::SGD>(
             p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
       }},
      {"RMSprop centred, momentum",
       [](auto p) {
         return std::make_unique<optim::RMSprop>(
             p, optim::RMSpropOptions{.momentum = 0.5, .centered = true});
       }},
      {"Adagrad",
       [](auto p) { return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions{}); }},
  };
  for (const auto& [name, make] : cases) {
    INFO(name);
    const auto one = train(make, 1);
    for (int threads : {2, 3}) {
      INFO("threads ", threads);
      const auto many = train(make, threads);
      REQUIRE(many.size() == one.size());
      for (std::size_t i = 0; i < one.size(); ++i) CHECK(same_bits(many[i], one[i]));
    }
  }
}

TEST_CASE("Adam at 2 threads matches its update written out in float64") {
  set_num_threads(2);
  const auto params = large_params();
  std::vector<std::vector<double>> p0, g;
  for (const Variable& p : params) p0.push_back(values(p.value()));
  set_grads(params, 5);
  for (const Variable& p : params) g.push_back(values(p.grad()));
  optim::Adam opt(params, {.lr = 0.01});
  opt.step();
  set_num_threads(1);
  // First step: m = 0.1 g, v = 0.001 g^2, bias corrections 0.1 and 0.001:
  // p -= lr * m / 0.1 / (sqrt(v / 0.001) + eps) = lr * g / (|g| + eps).
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto got = values(params[i].value());
    std::vector<double> expected(got.size());
    for (std::size_t j = 0; j < got.size(); ++j)
      expected[j] = p0[i][j] - 0.01 * g[i][j] / (std::abs(g[i][j]) + 1e-8);
    expect_close(got, expected, params[i].dtype() == kFloat32 ? 1e-6 : 1e-12);
  }
}

TEST_CASE("clip_grad_norm_: the same norm and gradients with 1, 2 and 3 threads") {
  const auto norm_of = [](int threads, double norm_type, std::vector<Tensor>& grads) {
    set_num_threads(threads);
    const auto params = large_params();
    set_grads(params, 11);
    const double total = optim::clip_grad_norm_(params, 1.0, norm_type);
    set_num_threads(1);
    grads.clear();
    for (const Variable& p : params) grads.push_back(p.grad().clone());
    return total;
  };
  for (double norm_type : {2.0, 1.0, 3.0, std::numeric_limits<double>::infinity()}) {
    INFO("norm_type ", norm_type);
    std::vector<Tensor> one, many;
    const double total = norm_of(1, norm_type, one);
    // The norm by a plain float64 loop over every value, in this test.
    const auto params = large_params();
    set_grads(params, 11);
    double acc = 0.0;
    for (const Variable& p : params)
      for (const double x : values(p.grad()))
        acc = std::isinf(norm_type) ? std::max(acc, std::abs(x))
                                    : acc + std::pow(std::abs(x), norm_type);
    const double expected = std::isinf(norm_type) ? acc : std::pow(acc, 1.0 / norm_type);
    CHECK(total == doctest::Approx(expected).epsilon(1e-12));
    for (int threads : {2, 3}) {
      INFO("threads ", threads);
      CHECK(norm_of(threads, norm_type, many) == total);
      for (std::size_t i = 0; i < one.size(); ++i) CHECK(same_bits(many[i], one[i]));
    }
  }
}

TEST_CASE("clip_grad_norm_: a NaN anywhere makes the infinity norm NaN, as torch.max does") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Variable a(zeros({3}, kFloat64), true), b(zeros({2}, kFloat64), true);
  a.set_grad(tensor({1.0, nan, 2.0}, {3}, kFloat64));  // NaN before a larger value
  b.set_grad(tensor({3.0, -4.0}, {2}, kFloat64));      // and another parameter after it
  CHECK(std::isnan(optim::clip_grad_norm_({a, b}, 1.0, inf)));
  CHECK(std::isnan(optim::clip_grad_norm_({a, b}, 1.0, 2.0)));
}
