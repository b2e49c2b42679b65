// gradcheck for every view and copy: view, reshape, transpose, permute, narrow, slice, select,
// unsqueeze, squeeze, expand, contiguous, clone and to, as free functions and as members.
#include <string>
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

using ViewFn = Variable (*)(const Variable&);

struct Case {
  const char* name;
  Dims input;
  ViewFn fn;
};

}  // namespace

TEST_CASE("gradcheck: views and copies") {
  Generator gen(41);
  // Every result is multiplied by a fixed ramp of weights, so an element that lands in the wrong
  // place gets a visibly wrong gradient even when the view itself is a permutation.
  const std::vector<Case> cases = {
      {"view",
       {2, 3, 4},
       [](const Variable& x) {
         return view(x, {6, 4});
       }},
      {"view -1",
       {2, 3, 4},
       [](const Variable& x) {
         return x.view({4, -1});
       }},
      {"reshape",
       {2, 3, 4},
       [](const Variable& x) {
         return reshape(x, {3, 8});
       }},
      {"reshape to 1-D", {2, 3}, [](const Variable& x) { return x.reshape({-1}); }},
      {"reshape to 0-d", {1, 1}, [](const Variable& x) { return x.reshape({}); }},
      {"flatten", {2, 3, 4}, [](const Variable& x) { return x.flatten(); }},
      {"reshape of a transposed input (copies)",
       {3, 4},
       [](const Variable& x) {
         return x.transpose(0, 1).reshape({2, 6});
       }},
      {"transpose", {2, 3, 4}, [](const Variable& x) { return transpose(x, 0, 2); }},
      {"transpose negative dims", {2, 3, 4}, [](const Variable& x) { return x.transpose(-1, -2); }},
      {"t", {2, 3}, [](const Variable& x) { return x.t(); }},
      {"permute",
       {2, 3, 4},
       [](const Variable& x) {
         return permute(x, {2, 0, 1});
       }},
      {"permute negative",
       {2, 3, 4},
       [](const Variable& x) {
         return x.permute({-1, 0, -2});
       }},
      {"narrow", {5, 3}, [](const Variable& x) { return narrow(x, 0, 1, 3); }},
      {"narrow last dim", {2, 5}, [](const Variable& x) { return x.narrow(-1, 2, 2); }},
      {"slice step 1", {6, 2}, [](const Variable& x) { return slice(x, 0, 1, 4); }},
      {"slice step 2", {7, 3}, [](const Variable& x) { return slice(x, 0, 1, 6, 2); }},
      {"slice step 3 on dim 1", {2, 8}, [](const Variable& x) { return x.slice(1, 0, 8, 3); }},
      {"slice negative bounds", {2, 6}, [](const Variable& x) { return x.slice(1, -5, -1, 2); }},
      {"select", {3, 4}, [](const Variable& x) { return select(x, 0, 1); }},
      {"select dim 1", {2, 3, 4}, [](const Variable& x) { return x.select(1, 2); }},
      {"select negative index", {3, 4}, [](const Variable& x) { return x.select(-1, -1); }},
      {"unsqueeze 0", {2, 3}, [](const Variable& x) { return unsqueeze(x, 0); }},
      {"unsqueeze -1", {2, 3}, [](const Variable& x) { return x.unsqueeze(-1); }},
      {"squeeze all", {1, 3, 1, 2}, [](const Variable& x) { return squeeze(x); }},
      {"squeeze one dim", {1, 3, 1, 2}, [](const Variable& x) { return x.squeeze(2); }},
      {"expand [3, 1] -> [2, 3, 4]",
       {3, 1},
       [](const Variable& x) {
         return expand(x, {2, 3, 4});
       }},
      {"expand [3] -> [2, 3]",
       {3},
       [](const Variable& x) {
         return x.expand({2, 3});
       }},
      {"expand with -1",
       {2, 1},
       [](const Variable& x) {
         return x.expand({-1, 5});
       }},
      {"expand 0-d",
       {},
       [](const Variable& x) {
         return x.expand({2, 2});
       }},
      {"contiguous of a transposed input",
       {3, 4},
       [](const Variable& x) { return contiguous(x.transpose(0, 1)); }},
      {"contiguous of a contiguous input",
       {3, 4},
       [](const Variable& x) { return x.contiguous(); }},
      {"clone", {2, 3}, [](const Variable& x) { return clone(x); }},
      {"clone of a slice", {6, 3}, [](const Variable& x) { return x.slice(0, 0, 6, 2).clone(); }},
      {"to float64 (no-op)", {2, 3}, [](const Variable& x) { return to(x, kFloat64); }},
      {"a chain of views",
       {2, 3, 4},
       [](const Variable& x) {
         return x.permute({1, 2, 0})
             .slice(1, 0, 4, 2)
             .reshape({3, 4})
             .t()
             .unsqueeze(0)
             .expand({2, 4, 3});
       }},
  };
  for (const Case& c : cases) {
    INFO(std::string(c.name));
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) {
          const Variable y = c.fn(v[0]);
          const Variable w(
              arange(0.0, static_cast<double>(y.numel()), 1.0, kFloat64).reshape(y.shape()) + 1.0);
          return y * w;
        },
        {normal64(c.input, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: a view used twice (overlapping slices accumulate)") {
  Generator gen(42);
  const auto r = run_gradchecks(
      [](const std::vector<Variable>& v) {
        const Variable& x = v[0];
        return x.narrow(0, 0, 3) * x.narrow(0, 1, 3) + x.select(0, 2).unsqueeze(0);
      },
      {normal64({4, 3}, gen)});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("gradcheck: cast through float32 and back") {
  // float32 rounds to ~1e-7 relative, so the finite-difference step must be much larger than
  // that for the numeric derivative to mean anything.
  Generator gen(43);
  GradcheckOptions options;
  options.eps = 1e-3;
  const auto r = run_gradchecks(
      [](const std::vector<Variable>& v) { return v[0].to(kFloat32).to(kFloat64) * 3.0; },
      {normal64({2, 3}, gen)}, options);
  CHECK_MESSAGE(r.ok, r.report);
}
