// A two-layer network learns XOR: the smallest complete use of the Trainer. The model is a
// Module, the optimiser is plain gradient descent (SGD without momentum: p -= lr * grad), and the
// Trainer runs the loop: zero the gradients, backward, step. It prints the loss going down and
// the final predictions.
#include <fmt/core.h>

#include "seqgrad.h"

using namespace seqgrad;

int main() {
  Generator gen(42);
  const Variable x(tensor({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2}));
  const Variable y(tensor({0, 1, 1, 0}, {4, 1}));

  // 2 -> 8 -> 1, weights uniform in +-1/sqrt(fan_in) as PyTorch's nn.Linear does.
  nn::Sequential net(
      {std::make_shared<nn::Linear>(2, 8, true, kFloat32, &gen), std::make_shared<nn::Tanh>(),
       std::make_shared<nn::Linear>(8, 1, true, kFloat32, &gen), std::make_shared<nn::Sigmoid>()});
  optim::SGD sgd(net.parameters(), {.lr = 0.5});
  train::Trainer trainer(net, sgd, gen, {.max_steps = 2000, .eval_every = 200});
  trainer.fit(
      // The loss of step `step` (the same four examples every time), averaged over them.
      [&](std::int64_t, Generator&) {
        return train::BatchLoss{mean(pow(net(x) - y, 2.0)), 4};
      },
      // Every 200 steps: the loss on the same four examples.
      [&] {
        NoGradGuard no_grad;
        const double loss = mean(pow(net(x) - y, 2.0)).item();
        fmt::print("step {:4d}  loss {:.6f}\n", trainer.progress().step, loss);
        return train::Evaluation{.loss = loss};
      });

  NoGradGuard no_grad;
  const auto p = net(x).value().to_vector<float>();
  fmt::print("predictions for (0,0) (0,1) (1,0) (1,1): {:.3f} {:.3f} {:.3f} {:.3f}\n", p[0], p[1],
             p[2], p[3]);
  const bool learned = p[0] < 0.5 && p[1] > 0.5 && p[2] > 0.5 && p[3] < 0.5;
  fmt::print("{}\n", learned ? "XOR learned." : "XOR not learned.");
  return learned ? 0 : 1;
}
