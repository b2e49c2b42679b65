// A two-layer network learns XOR with seqgrad's autograd and plain gradient descent.
// It prints the loss going down and the final predictions.
#include <fmt/core.h>

#include "seqgrad.h"

using namespace seqgrad;

int main() {
  Generator gen(42);
  const Tensor inputs = tensor({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  const Tensor targets = tensor({0, 1, 1, 0}, {4, 1});

  // 2 -> 8 -> 1, weights uniform in +-1/sqrt(fan_in) as PyTorch's nn.Linear does.
  auto uniform = [&](Dims shape, double bound) {
    return Variable(uniform_(empty(shape), -bound, bound, &gen), /*requires_grad=*/true);
  };
  Variable w1 = uniform({2, 8}, 1 / std::sqrt(2.0)), b1 = uniform({8}, 1 / std::sqrt(2.0));
  Variable w2 = uniform({8, 1}, 1 / std::sqrt(8.0)), b2 = uniform({1}, 1 / std::sqrt(8.0));
  const std::vector<Variable> params{w1, b1, w2, b2};

  const Variable x(inputs), y(targets);
  const double lr = 0.5;
  Variable prediction;
  for (int step = 0; step <= 2000; ++step) {
    Variable hidden = tanh(matmul(x, w1) + b1);
    prediction = sigmoid(matmul(hidden, w2) + b2);
    Variable loss = mean(pow(prediction - y, 2.0));
    for (const Variable& p : params) p.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;  // the update itself is not part of any graph
      for (const Variable& p : params) p.add_(p.grad(), -lr);
    }
    if (step % 200 == 0) fmt::print("step {:4d}  loss {:.6f}\n", step, loss.item());
  }
  const auto p = prediction.value().to_vector<float>();
  fmt::print("predictions for (0,0) (0,1) (1,0) (1,1): {:.3f} {:.3f} {:.3f} {:.3f}\n", p[0], p[1],
             p[2], p[3]);
  const bool learned = p[0] < 0.5 && p[1] > 0.5 && p[2] > 0.5 && p[3] < 0.5;
  fmt::print("{}\n", learned ? "XOR learned." : "XOR not learned.");
  return learned ? 0 : 1;
}
