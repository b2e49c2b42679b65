// LR schedulers beyond the PyTorch fixtures: closed forms at chosen epochs, state save/restore
// (alone and together with the optimiser), and argument errors.
#include <cmath>
#include <numbers>

#include "optim/all.h"
#include "optim_fixture.h"

using namespace seqgrad;
using namespace seqgrad::testing;

TEST_CASE("schedule: construction sets the epoch-0 rate; lr_at gives the closed forms") {
  optim::SGD opt(fixture_params(), {.lr = 0.2});
  optim::LinearLR warmup(opt, 0.25, 1.0, 4);
  CHECK(opt.lr() == doctest::Approx(0.05));
  CHECK(warmup.last_epoch() == 0);
  CHECK(warmup.base_lr() == 0.2);
  CHECK(warmup.lr_at(2) == doctest::Approx(0.2 * (0.25 + 0.75 * 0.5)));
  CHECK(warmup.lr_at(100) == doctest::Approx(0.2));

  optim::SGD opt2(fixture_params(), {.lr = 1.0});
  optim::CosineAnnealingLR cosine(opt2, 10, 0.1);
  CHECK(cosine.lr_at(5) == doctest::Approx(0.1 + 0.9 * 0.5));
  CHECK(cosine.lr_at(10) == doctest::Approx(0.1));
  CHECK(cosine.lr_at(20) == doctest::Approx(1.0));  // keeps following the cosine, as PyTorch

  optim::SGD opt3(fixture_params(), {.lr = 1.0});
  optim::StepLR step(opt3, 30, 0.5);
  CHECK(step.lr_at(29) == 1.0);
  CHECK(step.lr_at(30) == 0.5);
  CHECK(step.lr_at(95) == 0.125);

  // Vaswani et al.: d^-0.5 min(s^-0.5, s w^-1.5) with d = 64, w = 4, s = epoch + 1; base_lr
  // (d w)^-0.5 = 1/16 makes NoamLR that formula.
  optim::SGD opt4(fixture_params(), {.lr = 1.0 / 16});
  optim::NoamLR noam(opt4, 4);
  CHECK(opt4.lr() == doctest::Approx(0.125 * 1 * 0.125));  // s = 1: 64^-0.5 * 1 * 4^-1.5
  CHECK(noam.lr_at(1) == doctest::Approx(0.125 * 2 * 0.125));
  CHECK(noam.lr_at(3) == doctest::Approx(0.125 * 0.5));    // s = 4 = w: the peak, = base_lr
  CHECK(noam.lr_at(15) == doctest::Approx(0.125 * 0.25));  // s = 16: 16^-0.5
  CHECK(noam.lr_at(99) == doctest::Approx(0.125 * 0.1));   // s = 100
}

TEST_CASE("schedule: WarmupCosineLR rises linearly, then follows a cosine down to 0") {
  // warmup 4, total 12, base 1, s = epoch + 1: s / 4 up to s = 4, then (1 + cos(pi (s - 4) / 8))
  // / 2.
  optim::SGD opt(fixture_params(), {.lr = 1.0});
  optim::WarmupCosineLR sched(opt, 4, 12);
  CHECK(opt.lr() == doctest::Approx(0.25));
  CHECK(sched.lr_at(1) == doctest::Approx(0.5));
  CHECK(sched.lr_at(3) == doctest::Approx(1.0));        // s = 4: the peak
  CHECK(sched.lr_at(5) == doctest::Approx(0.8535534));  // s = 6: (1 + cos(pi / 4)) / 2
  CHECK(sched.lr_at(7) == doctest::Approx(0.5));        // s = 8: half way down
  CHECK(sched.lr_at(11) == doctest::Approx(0.0));       // s = 12 = total
  CHECK(sched.lr_at(40) == 0.0);                        // and it stays there
  for (int k = 0; k < 7; ++k) sched.step();
  CHECK(opt.lr() == doctest::Approx(0.5));
}

TEST_CASE("schedule: resuming optimiser and scheduler from their state dicts continues the run") {
  const auto params = fixture_params();
  optim::Adam opt(params, {.lr = 0.05});
  optim::CosineAnnealingLR sched(opt, 4, 0.001);
  for (std::size_t k = 0; k < 3; ++k) {
    set_fixture_grads(params, "default", k);
    opt.step();
    sched.step();
  }
  const auto opt_state = opt.state_dict();
  const auto sched_state = sched.state_dict();
  CHECK(sched_state.at("last_epoch").item() == 3);
  CHECK(sched_state.at("last_epoch").dtype() == kFloat64);

  std::vector<Variable> params2;
  for (const Variable& p : params) params2.emplace_back(p.value().clone(), true);
  optim::Adam opt2(params2, {.lr = 0.05});
  optim::CosineAnnealingLR sched2(opt2, 4, 0.001);  // sets opt2's lr to the epoch-0 value...
  opt2.load_state_dict(opt_state);                  // ...which the saved lr replaces
  sched2.load_state_dict(sched_state);
  CHECK(sched2.last_epoch() == 3);
  CHECK(sched2.last_lr() == sched.last_lr());
  CHECK(opt2.lr() == opt.lr());
  for (std::size_t k = 3; k < 5; ++k) {
    set_fixture_grads(params, "default", k);
    set_fixture_grads(params2, "default", k);
    opt.step();
    opt2.step();
    sched.step();
    sched2.step();
    CHECK(opt2.lr() == opt.lr());
  }
  for (std::size_t i = 0; i < params.size(); ++i)
    CHECK(values(params2[i].value()) == values(params[i].value()));
}

TEST_CASE("schedule: bad state dicts and arguments are rejected") {
  optim::SGD opt(fixture_params(), {.lr = 0.1});
  optim::StepLR sched(opt, 2);
  sched.step();
  auto bad = sched.state_dict();
  bad["last_epoch"] = scalar_tensor(-1.0, kFloat64);
  CHECK_THROWS_WITH_AS(sched.load_state_dict(bad), doctest::Contains("'last_epoch'"), Error);
  bad = sched.state_dict();
  bad["gamma"] = scalar_tensor(0.5, kFloat64);
  CHECK_THROWS_WITH_AS(sched.load_state_dict(bad), doctest::Contains("'gamma'"), Error);
  bad = sched.state_dict();
  bad.erase("base_lr");
  CHECK_THROWS_WITH_AS(sched.load_state_dict(bad), doctest::Contains("'base_lr'"), Error);
  bad = sched.state_dict();
  bad["base_lr"] = scalar_tensor(0.1, kFloat32);
  CHECK_THROWS_WITH_AS(sched.load_state_dict(bad), doctest::Contains("'base_lr'"), Error);
  CHECK(sched.last_epoch() == 1);

  CHECK_THROWS_WITH_AS(optim::StepLR(opt, 0), doctest::Contains("invalid step_size 0"), Error);
  CHECK_THROWS_WITH_AS(optim::CosineAnnealingLR(opt, 0), doctest::Contains("invalid T_max 0"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::LinearLR(opt, 1.5), doctest::Contains("invalid start_factor 1.5"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::LinearLR(opt, 0.5, -1.0), doctest::Contains("invalid end_factor -1"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::NoamLR(opt, 0), doctest::Contains("invalid warmup 0"), Error);
  CHECK_THROWS_WITH_AS(optim::WarmupCosineLR(opt, 0, 10), doctest::Contains("invalid warmup 0"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::WarmupCosineLR(opt, 10, 10),
                       doctest::Contains("total 10 must exceed warmup 10"), Error);
  CHECK_THROWS_WITH_AS(optim::LinearLR(opt, 0.5, 1.0, 0),
                       doctest::Contains("invalid total_iters 0"), Error);
}
