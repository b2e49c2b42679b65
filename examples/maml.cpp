// MAML (Finn et al. 2017) on sine regression: meta-learns an initialisation from which one
// gradient step on 10 points of a new sine fits it. The inner step,
//   theta' = theta - alpha grad L_support(theta),
// is recorded (grad() with create_graph), so the outer loss L_query(theta') differentiates
// through it back to theta: the meta-gradient contains Hessian-vector products of the inner loss.
#include <fmt/core.h>

#include <cmath>
#include <numbers>

#include "seqgrad.h"

using namespace seqgrad;
namespace F = nn::functional;

namespace {

struct Task {
  double amplitude, phase;
};

// K points of the task's sine, x uniform in [-5, 5].
std::pair<Variable, Variable> sample(const Task& t, std::int64_t k, Generator& gen) {
  std::vector<float> xs, ys;
  for (std::int64_t i = 0; i < k; ++i) {
    const double x = gen.uniform() * 10 - 5;
    xs.push_back(static_cast<float>(x));
    ys.push_back(static_cast<float>(t.amplitude * std::sin(x - t.phase)));
  }
  return {Variable(from_vector(xs, {k, 1})), Variable(from_vector(ys, {k, 1}))};
}

Variable net(const std::vector<Variable>& p, const Variable& x) {
  const Variable h1 = relu(F::linear(x, p[0], p[1]));
  const Variable h2 = relu(F::linear(h1, p[2], p[3]));
  return F::linear(h2, p[4], p[5]);
}

// The inner step on `support`, then the loss on `query`; create_graph keeps the step
// differentiable (for the meta-gradient) or not (for evaluation).
std::pair<double, Variable> adapted_loss(const std::vector<Variable>& theta, const Task& task,
                                         Generator& gen, bool create_graph) {
  const double alpha = 0.01;
  const auto [xs, ys] = sample(task, 10, gen);
  const auto [xq, yq] = sample(task, 10, gen);
  const Variable support_loss = F::mse_loss(net(theta, xs), ys);
  const auto g = grad({support_loss}, theta, {}, {.create_graph = create_graph});
  std::vector<Variable> adapted;
  for (std::size_t i = 0; i < theta.size(); ++i) adapted.push_back(theta[i] - g[i] * alpha);
  return {support_loss.item(), F::mse_loss(net(adapted, xq), yq)};
}

Task random_task(Generator& gen) {
  return {0.1 + gen.uniform() * 4.9, gen.uniform() * std::numbers::pi};
}

// Mean query loss after one inner step, over fixed held-out tasks.
double evaluate(const std::vector<Variable>& theta) {
  Generator gen(99);
  double total = 0;
  for (int i = 0; i < 200; ++i)
    total += adapted_loss(theta, random_task(gen), gen, false).second.item();
  return total / 200;
}

}  // namespace

int main() {
  Generator gen(5);
  std::vector<Variable> theta;
  for (auto [out, in] : {std::pair{40, 1}, {40, 40}, {1, 40}}) {
    nn::Linear layer(in, out, true, kFloat32, &gen);  // PyTorch's initialisation
    theta.push_back(layer.weight);
    theta.push_back(layer.bias);
  }
  optim::Adam adam(theta, {.lr = 1e-3});
  const double before = evaluate(theta);
  fmt::print("held-out query loss after one step, before meta-training: {:.4f}\n", before);
  for (int it = 1; it <= 3000; ++it) {
    Variable meta_loss;
    for (int t = 0; t < 5; ++t) {  // 5 tasks per meta-batch
      const Variable q = adapted_loss(theta, random_task(gen), gen, true).second;
      meta_loss = meta_loss.defined() ? meta_loss + q : q;
    }
    adam.zero_grad();
    (meta_loss / 5.0).backward();  // through the inner step: second derivatives
    adam.step();
    if (it % 1000 == 0)
      fmt::print("meta-step {:4d}  held-out query loss {:.4f}\n", it, evaluate(theta));
  }
  const double after = evaluate(theta);
  const bool ok = after < 0.5 * before;
  fmt::print("{}\n", ok ? "The meta-learned start adapts in one step." : "No meta-learning.");
  return ok ? 0 : 1;
}
