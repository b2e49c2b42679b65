// gradcheck (float64 central differences) for the losses: cross_entropy in every reduction, with
// ignore_index, label_smoothing and [N, C, d] logits; nll_loss; mse_loss; and
// binary_cross_entropy_with_logits (through both the logits and the target).
#include <string>
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;
using F::Reduction;
using Vars = std::vector<Variable>;

namespace {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::None:
      return "none";
    case Reduction::Mean:
      return "mean";
    case Reduction::Sum:
      return "sum";
  }
  return "?";
}

constexpr Reduction kReductions[] = {Reduction::Mean, Reduction::Sum, Reduction::None};

}  // namespace

TEST_CASE("gradcheck: cross_entropy") {
  Generator gen(51);
  struct Case {
    const char* name;
    Dims logits;
    Tensor target;
    std::int64_t ignore_index;
    double label_smoothing;
  };
  const std::vector<Case> cases = {
      {"plain", {4, 3}, i64({0, 2, 1, 2}, {4}), -100, 0.0},
      {"ignore_index", {5, 3}, i64({0, -100, 1, 2, -100}, {5}), -100, 0.0},
      {"ignore_index of a valid class", {4, 3}, i64({0, 1, 1, 2}, {4}), 1, 0.0},
      {"label_smoothing", {4, 3}, i64({0, 2, 1, 2}, {4}), -100, 0.15},
      {"ignore_index and label_smoothing", {5, 4}, i64({3, -100, 1, 0, -100}, {5}), -100, 0.3},
      {"[N, C, d] logits", {2, 3, 4}, i64({0, 2, 1, 2, 1, 1, 0, 2}, {2, 4}), -100, 0.0},
      {"[N, C, d] logits, ignore_index and smoothing",
       {2, 3, 2},
       i64({0, -1, -1, 2}, {2, 2}),
       -1,
       0.1},
      {"[N, C, d1, d2] logits", {2, 3, 2, 2}, i64({0, 1, 2, 0, 2, 2, 1, 0}, {2, 2, 2}), -100, 0.05},
      {"1-D logits", {4}, from_vector(std::vector<std::int64_t>{3}, {1}).reshape({}), -100, 0.0},
  };
  for (const Case& c : cases) {
    for (Reduction r : kReductions) {
      INFO("cross_entropy ", std::string(c.name), ", reduction ", reduction_name(r));
      CHECK_GRADCHECK(
          [&](const Vars& v) {
            return F::cross_entropy(v[0], c.target, r, c.ignore_index, c.label_smoothing);
          },
          {normal64(c.logits, gen) * 2.0});
    }
  }
}

TEST_CASE("gradcheck: nll_loss") {
  Generator gen(52);
  const Tensor target = i64({2, -100, 0, 1, 2}, {5});
  const Tensor target3 = i64({0, 2, 1, 1, 0, 2}, {2, 3});
  for (Reduction r : kReductions) {
    INFO("nll_loss reduction ", reduction_name(r));
    CHECK_GRADCHECK([&](const Vars& v) { return F::nll_loss(v[0], target, r); },
                    {normal64({5, 3}, gen)});
    CHECK_GRADCHECK([&](const Vars& v) { return F::nll_loss(v[0], target3, r, 1); },
                    {normal64({2, 3, 3}, gen)});
    // Composed with log_softmax, as a classifier uses it.
    CHECK_GRADCHECK([&](const Vars& v) { return F::nll_loss(log_softmax(v[0], 1), target, r); },
                    {normal64({5, 3}, gen)});
  }
}

TEST_CASE("gradcheck: mse_loss through the input and the target") {
  Generator gen(53);
  for (Reduction r : kReductions) {
    INFO("mse_loss reduction ", reduction_name(r));
    CHECK_GRADCHECK([&](const Vars& v) { return F::mse_loss(v[0], v[1], r); },
                    {normal64({3, 4}, gen), normal64({3, 4}, gen)});
  }
}

TEST_CASE("gradcheck: binary_cross_entropy_with_logits through the logits and the target") {
  Generator gen(54);
  for (Reduction r : kReductions) {
    INFO("binary_cross_entropy_with_logits reduction ", reduction_name(r));
    // Logits away from 0, where |x| in the stable formula has its kink; some of them large.
    CHECK_GRADCHECK(
        [&](const Vars& v) { return F::binary_cross_entropy_with_logits(v[0], v[1], r); },
        {away_from_zero64({3, 4}, gen) * 4.0, uniform64({3, 4}, 0.0, 1.0, gen)});
  }
}
