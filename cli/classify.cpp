// `seqgrad classify --dataset fashion-mnist`: trains the CNN of models/cnn.h with SGD + momentum
// through the Trainer, evaluates on the test set after every epoch, writes the run folder
// (checkpoints that `seqgrad eval` reads, metrics, the resume state) and ends with one JSON line.
#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/idx.h"
#include "models/cnn.h"
#include "optim/all.h"
#include "train/all.h"

namespace seqgrad::cli {

namespace {

struct ClassifyOptions {
  std::string dataset = "fashion-mnist";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::int64_t epochs = 3;
  std::int64_t batch = 64;
  double lr = 0.01;
  double momentum = 0.9;
  std::string schedule = "none";
  std::int64_t max_steps = 0;  // per epoch; 0: the whole training set
  int threads = default_threads();
  bool data_parallel = false;  // each batch split across the threads, one network replica each
  std::uint64_t seed = 0;
  bool quiet = false;
  std::int64_t log_every = 0;
  std::string out;  // empty: a fresh folder under runs/
  bool resume = false;
};

// What a checkpoint of this command says about itself: `seqgrad eval` finds the classifier path
// by the "kind".
constexpr const char* kKind = "image-classifier";
constexpr const char* kModel = "fashion_cnn";

// Standardised with the training set's pixel mean and std (Fashion-MNIST: 0.2860, 0.3530).
constexpr double kPixelMean = 0.2860, kPixelStd = 0.3530;

// The IDX file for `stem`, gzipped (as Debian ships it) or not.
std::string find_file(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem, stem + ".gz"}) {
    const auto p = std::filesystem::path(dir) / name;
    if (std::filesystem::exists(p)) return p.string();
  }
  fail("classify: {} not found in {} (install Debian's dataset-fashion-mnist, or pass --data-dir)",
       stem, dir);
}

// "train" or "t10k" of Fashion-MNIST.
data::ImageDataset load_split(const std::string& dir, const std::string& split) {
  return data::load_image_dataset(find_file(dir, split + "-images-idx3-ubyte"),
                                  find_file(dir, split + "-labels-idx1-ubyte"), 10, kPixelMean,
                                  kPixelStd);
}

// Mean cross-entropy and accuracy on a whole set.
std::pair<double, double> evaluate(nn::Layer& net, const data::ImageDataset& set) {
  NoGradGuard no_grad;
  net.eval();
  const std::int64_t n = set.labels.numel(), chunk = 1000;
  std::int64_t correct = 0;
  double loss = 0;
  for (std::int64_t start = 0; start < n; start += chunk) {
    const std::int64_t len = std::min(chunk, n - start);
    const Tensor labels = set.labels.narrow(0, start, len);
    const Variable logits = net(Variable(set.images.narrow(0, start, len)));
    loss += nn::functional::cross_entropy(logits, labels, nn::functional::Reduction::Sum).item();
    correct += static_cast<std::int64_t>(sum(eq(argmax(logits.value(), 1), labels)).item());
  }
  net.train();
  return {loss / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

void run_classify(const ClassifyOptions& o) {
  check(o.dataset == "fashion-mnist", "classify: unknown dataset '{}' (known: fashion-mnist)",
        o.dataset);
  check(o.lr > 0 && std::isfinite(o.lr), "classify: --lr must be positive, got {}", o.lr);
  set_num_threads(o.threads, models::kFashionCnnBlasThreads);

  const data::ImageDataset train = load_split(o.data_dir, "train");
  const data::ImageDataset test = load_split(o.data_dir, "t10k");
  if (!o.quiet)
    fmt::print(stderr, "fashion-mnist: {} training and {} test images\n", train.labels.numel(),
               test.labels.numel());

  Generator gen(o.seed);
  auto net = models::make_fashion_cnn(&gen);
  if (!o.quiet) fmt::print(stderr, "{}", net->summary(Dims{1, 1, 28, 28}));
  optim::SGD opt(net->parameters(), {.lr = o.lr, .momentum = o.momentum});
  const std::int64_t n = train.labels.numel();
  const std::int64_t full_epoch = (n + o.batch - 1) / o.batch;
  // --max-steps shortens each epoch (for benchmarks, as bench/torch_cnn.py --max-steps).
  const std::int64_t steps_per_epoch =
      o.max_steps > 0 ? std::min(o.max_steps, full_epoch) : full_epoch;
  const std::filesystem::path out = o.out.empty()
                                        ? fresh_run_folder(fmt::format("cnn-{}", o.dataset))
                                        : std::filesystem::path(o.out);
  const nlohmann::json options = {{"dataset", o.dataset},     {"epochs", o.epochs},
                                  {"batch", o.batch},         {"lr", o.lr},
                                  {"momentum", o.momentum},   {"schedule", o.schedule},
                                  {"max_steps", o.max_steps}, {"seed", o.seed},
                                  {"threads", o.threads}};
  nlohmann::json run_config = options;
  if (o.data_parallel) run_config["data_parallel"] = true;  // only when set: older runs resume
  train::Trainer trainer(*net, opt, gen,
                         {.max_epochs = o.epochs,
                          .steps_per_epoch = steps_per_epoch,
                          .out = out,
                          .resume = o.resume,
                          .config = run_config,
                          .may_change_on_resume = {"epochs", "threads", "data_parallel"},
                          .checkpoint_metadata = {{"format", "seqgrad-checkpoint"},
                                                  {"kind", kKind},
                                                  {"model", kModel},
                                                  {"dataset", o.dataset},
                                                  {"config", "{}"},
                                                  {"options", options.dump()}},
                          .handle_signals = true});
  if (o.schedule == "cosine")
    trainer.set_schedule(
        std::make_shared<optim::CosineAnnealingLR>(opt, o.epochs * steps_per_epoch));
  trainer.add_callback(std::make_shared<train::ProgressLog>("img", o.log_every, o.quiet));
  trainer.add_callback(std::make_shared<train::MetricsLog>(out, "images"));

  // Each epoch visits the training set in its own order, drawn from (seed, epoch): any step's
  // batch follows from the step alone.
  Tensor order;
  std::int64_t order_epoch = -1;
  const auto batch_indices = [&](std::int64_t step) {
    const std::int64_t epoch = step / steps_per_epoch;
    if (epoch != order_epoch) {
      Generator shuffle(o.seed * 1000003 + static_cast<std::uint64_t>(epoch));
      order = randperm(n, &shuffle);
      order_epoch = epoch;
    }
    const std::int64_t start = (step % steps_per_epoch) * o.batch;
    return order.narrow(0, start, std::min<std::int64_t>(o.batch, n - start));
  };
  const auto batch_loss = [&](nn::Layer& model, const Tensor& idx) {
    const Variable x(index_select(train.images, 0, idx));
    return train::BatchLoss{
        nn::functional::cross_entropy(model(x), index_select(train.labels, 0, idx)), idx.numel()};
  };
  const train::Trainer::Evaluate evaluate_test = [&] {
    const auto [loss, acc] = evaluate(*net, test);
    return train::Evaluation{.loss = loss, .score = acc, .metrics = {{"accuracy", acc}}};
  };
  // --data-parallel: one more network per thread, its weights those of `net`.
  const bool data_parallel = o.data_parallel && o.threads > 1;
  if (data_parallel)
    trainer.set_replicas(o.threads, [](Generator* g) { return models::make_fashion_cnn(g); });
  const train::TrainResult r =
      data_parallel
          ? trainer.fit_data_parallel(
                [&](std::int64_t step, Generator&) -> train::Trainer::ShardLoss {
                  const Tensor idx = batch_indices(step);
                  return [&batch_loss, idx](const train::Shard& s) {
                    // Dealt as Shard::deal does (the images are all one size).
                    return batch_loss(static_cast<nn::Layer&>(s.model),
                                      idx.slice(0, s.index, idx.numel(), s.count).contiguous());
                  };
                },
                evaluate_test)
          : trainer.fit([&](std::int64_t step,
                            Generator&) { return batch_loss(*net, batch_indices(step)); },
                        evaluate_test);
  if (r.reason == train::StopReason::Interrupted) {
    fmt::print(stderr,
               "interrupted at step {}: saved {}; continue with the same command and --resume\n",
               r.progress.step, (out / "last.state.safetensors").string());
    std::exit(130);
  }
  const double test_acc = r.last_evaluation ? r.last_evaluation->score : 0.0;
  fmt::print(
      "{{\"epochs\": {}, \"test_accuracy\": {:.4f}, \"train_images_per_s\": {:.1f}, "
      "\"stop_reason\": \"{}\", \"out\": \"{}\"}}\n",
      trainer.epoch(), test_acc, static_cast<double>(r.progress.items) / r.progress.seconds,
      train::stop_reason_name(r.reason), out.string());
}

}  // namespace

bool is_image_classifier(const nn::SafetensorsFile& file) {
  const auto it = file.metadata.find("kind");
  return it != file.metadata.end() && it->second == kKind;
}

void eval_image_classifier(const nn::SafetensorsFile& file, const std::string& path,
                           const std::string& data_dir) {
  const auto model = file.metadata.find("model");
  check(model != file.metadata.end() && model->second == kModel,
        "eval: {}: an image classifier of an unknown model", path);
  auto net = models::make_fashion_cnn();
  try {
    net->load_state_dict(file.tensors);
  } catch (const Error& e) {
    fail("eval: {}: {}", path, e.what());
  }
  const data::ImageDataset test = load_split(data_dir, "t10k");
  const auto [loss, accuracy] = evaluate(*net, test);
  fmt::print("{{\"loss\": {:.6f}, \"images\": {}, \"accuracy\": {:.4f}}}\n", loss,
             test.labels.numel(), accuracy);
}

void add_classify_command(CLI::App& app) {
  auto o = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand("classify", "Train the CNN image classifier on Fashion-MNIST");
  cmd->add_option("--dataset", o->dataset, "Dataset (fashion-mnist)")->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir, "Folder with the IDX files (optionally .gz)")
      ->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "Passes over the training set")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images per step")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  cmd->add_option("--lr", o->lr, "Learning rate of SGD")->capture_default_str();
  cmd->add_option("--momentum", o->momentum, "Momentum of SGD")->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "Learning-rate schedule, per step")
      ->check(CLI::IsMember({"none", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--max-steps", o->max_steps, "Steps per epoch at most (0: the whole set)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--data-parallel", o->data_parallel,
                "Split each batch across the --threads threads, each with its own replica of the "
                "network, and sum the gradients (results differ in the last bits from the "
                "default)");
  cmd->add_option("--seed", o->seed, "Seed of initialisation and shuffling")->capture_default_str();
  cmd->add_option("--out", o->out,
                  "Run folder (default: a fresh runs/<time>-cnn-<dataset>, linked as runs/latest); "
                  "a folder that holds a run is refused unless --resume");
  cmd->add_flag("--resume", o->resume,
                "Continue the run in --out from its last state (same options; --epochs, "
                "--threads and --data-parallel may change)");
  cmd->add_flag("--quiet", o->quiet, "No progress output (errors and the JSON summary only)");
  cmd->add_option("--log-every", o->log_every,
                  "Without a terminal: a progress line every N steps (0: one per epoch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([o] { run_classify(*o); });
}

}  // namespace seqgrad::cli
