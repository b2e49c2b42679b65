// Memory discipline of a training step: once a few steps have run, including one on the longest
// batch shapes, later steps are served entirely by the caching allocator (no call to the system
// allocator for tensor storage), for all three encoder-decoders and the Fashion-MNIST CNN.
#include <doctest/doctest.h>

#include "data/training_data.h"
#include "models/cnn.h"
#include "models/seq2seq_io.h"
#include "optim/all.h"
#include "train/trainer.h"

using namespace seqgrad;
using namespace seqgrad::models;
using namespace seqgrad::data;

namespace {

// Counts the system allocations of the steps after `warmup`, through the Trainer's own loop.
class CountAllocations : public train::Callback {
 public:
  explicit CountAllocations(std::int64_t warmup) : warmup_(warmup) {}
  void on_step_end(const train::Trainer&, const train::StepReport& r) override {
    if (r.step == warmup_) at_warmup_ = allocator_stats().system_allocations;
  }
  std::uint64_t since_warmup() const { return allocator_stats().system_allocations - at_warmup_; }

 private:
  std::int64_t warmup_;
  std::uint64_t at_warmup_ = 0;
};

void check_steady_state(const std::string& model, const std::string& config) {
  // Start from an empty cache: blocks left by the tests that ran before in this process would
  // otherwise decide which requests find a cached block, so the result would depend on the order.
  CachingAllocator::global().release_cached();
  const TrainingData corpus = task_data({"reverse", 5, 20});
  Generator gen(1);
  const auto net =
      make_model(model, config, corpus.src_vocab.size(), corpus.tgt_vocab.size(), &gen);
  optim::Adam opt(net->parameters(), optim::AdamOptions{.lr = 1e-3});
  // Warm-up: 3 batches of the longest sources (every tensor at its largest shape; the first step
  // creates Adam's moments), then 60 of random lengths (each new size class is cached once, and
  // the blocks that odd sizes fall back to); then 60 steps that must not allocate. (With 30
  // random warm-up batches, the attention model still met a new combination of sizes once in the
  // next 367 steps; after 60, none in 337: docs/performance.md, memory discipline.)
  train::Trainer trainer(*net, opt, gen, {.max_steps = 123, .clip = 5.0});
  const auto count = std::make_shared<CountAllocations>(63);
  trainer.add_callback(count);
  const TaskOptions longest{"reverse", 20, 20};
  trainer.fit([&](std::int64_t step, Generator& g) {
    const Batch b = make_batch(step < 3 ? generate_task(longest, 64, g) : corpus.sample(64, g),
                               corpus.src_vocab, corpus.tgt_vocab);
    return train::BatchLoss{net->loss(b) / static_cast<double>(b.target_tokens), b.target_tokens};
  });
  CHECK_MESSAGE(count->since_warmup() == 0,
                fmt::format("{}: {} system allocations in 60 steady-state steps", model,
                            count->since_warmup()));
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
  // random images, at 1 thread, after 5 warm-up steps (the Winograd convolution's buffers settle
  // into the cache's blocks in the fourth; 60 steps after the fifth made none). At 2 threads the
  // two halves of the batch allocate and free their buffers concurrently through the one shared
  // cache, and under load a rare interleaving can still need one more block after 30 warm-up steps
  // (seen when two test processes shared the two cores), so that case is not asserted here
  // (docs/performance.md, memory discipline).
  CachingAllocator::global().release_cached();
  const int threads_before = get_num_threads();
  set_num_threads(1, kFashionCnnBlasThreads);
  Generator gen(2);
  const auto net = make_fashion_cnn(&gen);
  optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
  const Tensor images = randn({16, 1, 28, 28}, kFloat32, &gen);
  const Tensor labels = randint(0, 10, {16}, &gen);
  train::Trainer trainer(*net, opt, gen, {.max_steps = 15});
  const auto count = std::make_shared<CountAllocations>(5);
  trainer.add_callback(count);
  trainer.fit([&](std::int64_t, Generator&) {
    return train::BatchLoss{nn::functional::cross_entropy((*net)(Variable(images)), labels), 16};
  });
  CHECK_MESSAGE(
      count->since_warmup() == 0,
      fmt::format("cnn: {} system allocations in 10 steady-state steps", count->since_warmup()));
  set_num_threads(threads_before);
}
