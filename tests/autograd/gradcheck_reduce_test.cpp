// gradcheck for the reductions and normalisations: sum, mean, amax, amin and logsumexp over one
// dim, several dims and all dims (keepdim both ways), max/min along a dim, softmax, log_softmax.
#include <string>
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

using Reduction = Variable (*)(const Variable&, const Dims&, bool);

struct NamedReduction {
  const char* name;
  Reduction fn;
};

// The dim lists every reduction is checked with, on a [2, 3, 4] input.
const std::vector<Dims> kDimLists = {
    {},         // all dims
    {0},        // the first
    {1},        // a middle one
    {-1},       // the last, negative
    {0, 2},     // several, not adjacent
    {2, 0},     // the same, unsorted
    {0, 1, 2},  // all, spelled out
};

}  // namespace

TEST_CASE("gradcheck: sum, mean, amax, amin and logsumexp over dims, keepdim both ways") {
  Generator gen(31);
  const std::vector<NamedReduction> ops = {
      {"sum", [](const Variable& x, const Dims& d, bool k) { return sum(x, d, k); }},
      {"mean", [](const Variable& x, const Dims& d, bool k) { return mean(x, d, k); }},
      // Continuous random inputs: the extremum is unique, so the gradient is well defined.
      {"amax", [](const Variable& x, const Dims& d, bool k) { return amax(x, d, k); }},
      {"amin", [](const Variable& x, const Dims& d, bool k) { return amin(x, d, k); }},
      {"logsumexp", [](const Variable& x, const Dims& d, bool k) { return logsumexp(x, d, k); }},
  };
  const Tensor x = normal64({2, 3, 4}, gen);
  for (const NamedReduction& op : ops) {
    for (const Dims& dims : kDimLists) {
      for (const bool keepdim : {false, true}) {
        INFO(std::string(op.name), " over ", fmt::format("{}", dims), " keepdim ", keepdim);
        const auto r = run_gradchecks(
            [&](const std::vector<Variable>& v) { return op.fn(v[0], dims, keepdim); }, {x});
        CHECK_MESSAGE(r.ok, r.report);
      }
    }
  }
}

TEST_CASE("gradcheck: reductions of a 0-d and a 1-D input") {
  Generator gen(32);
  for (const Dims& shape : {Dims{}, Dims{5}}) {
    const Tensor x = normal64(shape, gen);
    INFO("shape ", fmt::format("{}", shape));
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          return sum(v[0]) + mean(v[0]) * 2.0 + amax(v[0]) * 3.0 + amin(v[0]) * 4.0 +
                 logsumexp(v[0], {}) * 5.0;
        },
        {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: reduction of a non-contiguous (transposed) input") {
  Generator gen(33);
  const auto r = run_gradchecks(
      [](const std::vector<Variable>& v) {
        const Variable xt = v[0].transpose(0, 1);  // [4, 3]
        return sum(xt, {0}) + mean(xt, {0}) + sum(amax(xt, {1})) + sum(logsumexp(xt, {1}));
      },
      {normal64({3, 4}, gen)});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("gradcheck: max and min along a dim return a differentiable value") {
  Generator gen(34);
  const Tensor x = normal64({3, 4, 2}, gen);
  for (const std::int64_t dim : {0, 1, 2, -1}) {
    for (const bool keepdim : {false, true}) {
      INFO("dim ", dim, " keepdim ", keepdim);
      const auto rmax = run_gradchecks(
          [&](const std::vector<Variable>& v) { return max(v[0], dim, keepdim).first; }, {x});
      CHECK_MESSAGE(rmax.ok, rmax.report);
      const auto rmin = run_gradchecks(
          [&](const std::vector<Variable>& v) { return min(v[0], dim, keepdim).first; }, {x});
      CHECK_MESSAGE(rmin.ok, rmin.report);
    }
  }
}

TEST_CASE("gradcheck: softmax along every dim") {
  Generator gen(35);
  const Tensor x = normal64({2, 3, 4}, gen);
  for (const std::int64_t dim : {0, 1, 2, -1, -3}) {
    INFO("dim ", dim);
    const auto r =
        run_gradchecks([&](const std::vector<Variable>& v) { return softmax(v[0], dim); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: log_softmax along dims 0 and -1") {
  Generator gen(36);
  for (const Dims& shape : {Dims{5}, Dims{3, 4}, Dims{2, 3, 4}}) {
    const Tensor x = normal64(shape, gen);
    for (const std::int64_t dim : {0, -1}) {
      INFO("shape ", fmt::format("{}", shape), " dim ", dim);
      const auto r = run_gradchecks(
          [&](const std::vector<Variable>& v) { return log_softmax(v[0], dim); }, {x});
      CHECK_MESSAGE(r.ok, r.report);
    }
  }
}

TEST_CASE("gradcheck: softmax of large logits stays exact (stable forward)") {
  // Shifted by 100: a naive exp would lose all precision of the differences.
  Generator gen(37);
  const Tensor x = normal64({2, 5}, gen) + 100.0;
  const auto rs =
      run_gradchecks([](const std::vector<Variable>& v) { return softmax(v[0], 1); }, {x});
  CHECK_MESSAGE(rs.ok, rs.report);
  const auto rl =
      run_gradchecks([](const std::vector<Variable>& v) { return log_softmax(v[0], 1); }, {x});
  CHECK_MESSAGE(rl.ok, rl.report);
}

TEST_CASE("gradcheck: a cross-entropy built from log_softmax, gather and mean") {
  Generator gen(38);
  const Tensor target = i64({2, 0, 3}, {3, 1});
  const auto r = run_gradchecks(
      [&](const std::vector<Variable>& v) {
        return neg(mean(gather(log_softmax(v[0], -1), 1, target)));
      },
      {normal64({3, 4}, gen)});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("gradcheck: max, min, softmax and log_softmax of a 0-d input") {
  Generator gen(39);
  const Tensor x = normal64({}, gen);
  const auto r = run_gradchecks(
      [](const std::vector<Variable>& v) {
        return max(v[0], 0).first + min(v[0], -1, /*keepdim=*/true).first * 2.0 +
               softmax(v[0], 0) * 3.0 + log_softmax(v[0], -1) * 4.0;
      },
      {x});
  CHECK_MESSAGE(r.ok, r.report);
}
