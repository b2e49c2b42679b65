// Memory discipline of a training step: once a few steps have run, including one on the longest
// batch shapes, later steps are served entirely by the caching allocator (no call to the system
// allocator for tensor storage), for all three encoder-decoders and the Fashion-MNIST CNN.
#include <doctest/doctest.h>

#include "models/cnn.h"
#include "models/seq2seq_io.h"
#include "models/training_data.h"
#include "optim/all.h"

using namespace seqgrad;
using namespace seqgrad::models;

namespace {
void check_steady_state(const std::string& model, const std::string& config) {
  // Start from an empty cache: blocks left by the tests that ran before in this process would
  // otherwise decide which requests find a cached block, so the result would depend on the order.
  CachingAllocator::global().release_cached();
  const TrainingData data = task_data({"reverse", 5, 20});
  Generator gen(1);
  const auto net = make_model(model, config, data.src_vocab.size(), data.tgt_vocab.size(), &gen);
  optim::Adam opt(net->parameters(), optim::AdamOptions{.lr = 1e-3});
  auto step = [&](const std::vector<Pair>& pairs) {
    const Batch b = make_batch(pairs, data.src_vocab, data.tgt_vocab);
    const Variable nll = net->loss(b);
    opt.zero_grad();
    (nll / static_cast<double>(b.target_tokens)).backward();
    optim::clip_grad_norm_(net->parameters(), 5.0);
    opt.step();
  };
  // Warm-up: batches of the longest sources (every tensor at its largest shape; the first step
  // creates Adam's moments), then 30 of random lengths (each new size class is cached once).
  const TaskOptions longest{"reverse", 20, 20};
  for (int i = 0; i < 3; ++i) step(generate_task(longest, 64, gen));
  for (int i = 0; i < 30; ++i) step(data.sample(64, gen));
  const std::uint64_t before = allocator_stats().system_allocations;
  for (int i = 0; i < 30; ++i) step(data.sample(64, gen));
  CHECK_MESSAGE(allocator_stats().system_allocations == before,
                fmt::format("{}: {} system allocations in 30 steady-state steps", model,
                            allocator_stats().system_allocations - before));
}
}  // namespace

TEST_CASE("steady state: a cho training step makes no system allocation") {
  check_steady_state("cho", R"({"emb": 16, "hidden": 32, "maxout": 16})");
}

TEST_CASE("steady state: a seq2seq training step makes no system allocation") {
  check_steady_state("seq2seq", R"({"cell": "lstm", "emb": 16, "hidden": 32, "layers": 2})");
}

TEST_CASE("steady state: an attention training step makes no system allocation") {
  check_steady_state("attention", R"({"emb": 16, "hidden": 32, "attention": 16})");
}

TEST_CASE("steady state: a CNN training step makes no system allocation") {
  // The step of `seqgrad classify` (cross-entropy, backward, SGD with momentum) on batches of 16
  // random images, at 1 thread. At 2 threads the two halves of the batch allocate and free their
  // buffers concurrently through the one shared cache, and under load a rare interleaving can
  // still need one more block after 30 warm-up steps (seen when two test processes shared the two
  // cores), so that case is not asserted here (docs/performance.md, memory discipline).
  CachingAllocator::global().release_cached();
  const int threads_before = get_num_threads();
  set_num_threads(1, kFashionCnnBlasThreads);
  Generator gen(2);
  const auto net = make_fashion_cnn(&gen);
  optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
  const Tensor images = randn({16, 1, 28, 28}, kFloat32, &gen);
  const Tensor labels = randint(0, 10, {16}, &gen);
  auto step = [&] {
    const Variable loss = nn::functional::cross_entropy((*net)(Variable(images)), labels);
    opt.zero_grad();
    loss.backward();
    opt.step();
  };
  for (int i = 0; i < 3; ++i) step();
  const std::uint64_t before = allocator_stats().system_allocations;
  for (int i = 0; i < 10; ++i) step();
  CHECK_MESSAGE(allocator_stats().system_allocations == before,
                fmt::format("cnn: {} system allocations in 10 steady-state steps",
                            allocator_stats().system_allocations - before));
  set_num_threads(threads_before);
}
