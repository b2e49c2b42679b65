// A gradient penalty trained end to end (WGAN-GP, Gulrajani et al. 2017): a generator learns a
// 2-D Gaussian against a critic whose loss holds the norm of its own input gradient near 1,
//   L_D = mean D(fake) - mean D(real) + 10 mean((|grad_x D(x_mix)| - 1)^2),
// with x_mix a random mix of real and fake points. The penalty's gradient with respect to the
// critic's weights is a second derivative: grad() with create_graph records the input gradient,
// and L_D.backward() differentiates through it.
#include <fmt/core.h>

#include <cmath>

#include "seqgrad.h"

using namespace seqgrad;

int main() {
  set_num_threads(1);  // matrices of 128 x 64: a second thread would only wait
  Generator gen(7);
  const std::int64_t batch = 128;
  const float mean_x = 2.0f, mean_y = -1.0f, stddev = 0.5f;
  auto real_batch = [&] {
    return randn({batch, 2}, kFloat32, &gen) * stddev + tensor({mean_x, mean_y}, {1, 2});
  };

  // Generator: z -> A z + b (it can match a Gaussian exactly). Critic: 2 -> 64 -> 64 -> 1, tanh.
  nn::Linear g(2, 2, true, kFloat32, &gen);
  nn::Sequential critic(
      {std::make_shared<nn::Linear>(2, 64, true, kFloat32, &gen), std::make_shared<nn::Tanh>(),
       std::make_shared<nn::Linear>(64, 64, true, kFloat32, &gen), std::make_shared<nn::Tanh>(),
       std::make_shared<nn::Linear>(64, 1, true, kFloat32, &gen)});
  optim::Adam opt_g(g.parameters(), {.lr = 2e-3, .betas = {0.5, 0.9}});
  optim::Adam opt_d(critic.parameters(), {.lr = 2e-3, .betas = {0.5, 0.9}});

  for (int step = 0; step <= 1500; ++step) {
    double w_distance = 0, penalty = 0;
    for (int k = 0; k < 5; ++k) {  // five critic steps per generator step
      const Tensor real = real_batch();
      Tensor fake;
      {
        NoGradGuard no_grad;
        fake = g(Variable(randn({batch, 2}, kFloat32, &gen))).value();
      }
      const Tensor eps = rand({batch, 1}, kFloat32, &gen);
      const Variable mix(real * eps + fake * (1.0 - eps), /*requires_grad=*/true);
      const Variable d_mix = critic(mix);
      const Variable grad_mix =
          grad({d_mix}, {mix}, {Variable(ones(d_mix.shape()))}, {.create_graph = true})[0];
      const Variable norm = sqrt(sum(grad_mix * grad_mix, {1}) + 1e-12);
      const Variable gp = mean(pow(norm - 1.0, 2.0)) * 10.0;
      const Variable gap = mean(critic(Variable(real))) - mean(critic(Variable(fake)));
      opt_d.zero_grad();
      (gp - gap).backward();  // through the recorded input gradient: second derivatives
      opt_d.step();
      w_distance = gap.item();
      penalty = gp.item();
    }
    opt_g.zero_grad();
    const Variable loss_g = -mean(critic(g(Variable(randn({batch, 2}, kFloat32, &gen)))));
    loss_g.backward();
    opt_g.step();
    if (step % 300 == 0)
      fmt::print("step {:4d}  critic's distance estimate {:.4f}  penalty {:.4f}\n", step,
                 w_distance, penalty);
  }

  NoGradGuard no_grad;
  const Tensor samples = g(Variable(randn({4096, 2}, kFloat32, &gen))).value();
  const auto m = mean(samples, {0}).to_vector<float>();
  const Tensor centred = samples - mean(samples, {0}, true);
  const auto s = sqrt(mean(centred * centred, {0})).to_vector<float>();
  fmt::print(
      "generated mean ({:.3f}, {:.3f}), std ({:.3f}, {:.3f}); target mean ({}, {}), std {}\n", m[0],
      m[1], s[0], s[1], mean_x, mean_y, stddev);
  const bool ok = std::abs(m[0] - mean_x) < 0.15 && std::abs(m[1] - mean_y) < 0.15 &&
                  std::abs(s[0] - stddev) < 0.15 && std::abs(s[1] - stddev) < 0.15;
  fmt::print("{}\n", ok ? "The generator matches the target." : "The generator did not learn.");
  return ok ? 0 : 1;
}
