// `seqgrad classify --dataset fashion-mnist`: trains the CNN of models/cnn.h with SGD + momentum,
// reports test accuracy after every epoch, and ends with one JSON line.
#include <fmt/core.h>

#include <cmath>
#include <filesystem>

#include "models/cli/commands.h"
#include "models/cli/progress.h"
#include "models/cnn.h"
#include "models/idx.h"
#include "optim/all.h"

namespace seqgrad::cli {

namespace {

struct ClassifyOptions {
  std::string dataset = "fashion-mnist";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  int epochs = 3;
  int batch = 64;
  double lr = 0.01;
  double momentum = 0.9;
  std::string schedule = "none";
  std::int64_t max_steps = 0;  // per epoch; 0: the whole training set
  int threads = 1;
  std::uint64_t seed = 0;
};

// The IDX file for `stem`, gzipped (as Debian ships it) or not.
std::string find_file(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem, stem + ".gz"}) {
    const auto p = std::filesystem::path(dir) / name;
    if (std::filesystem::exists(p)) return p.string();
  }
  fail("classify: {} not found in {} (install Debian's dataset-fashion-mnist, or pass --data-dir)",
       stem, dir);
}

double accuracy(nn::Layer& net, const data::ImageDataset& set) {
  NoGradGuard no_grad;
  net.eval();
  const std::int64_t n = set.labels.numel(), chunk = 1000;
  std::int64_t correct = 0;
  for (std::int64_t start = 0; start < n; start += chunk) {
    const std::int64_t len = std::min(chunk, n - start);
    const Tensor predicted = argmax(net(Variable(set.images.narrow(0, start, len))), 1);
    correct +=
        static_cast<std::int64_t>(sum(eq(predicted, set.labels.narrow(0, start, len))).item());
  }
  net.train();
  return static_cast<double>(correct) / static_cast<double>(n);
}

void run_classify(const ClassifyOptions& o) {
  check(o.dataset == "fashion-mnist", "classify: unknown dataset '{}' (known: fashion-mnist)",
        o.dataset);
  check(o.epochs >= 1 && o.epochs <= 1000, "classify: --epochs must be 1..1000, got {}", o.epochs);
  check(o.batch >= 1 && o.batch <= 60000, "classify: --batch must be 1..60000, got {}", o.batch);
  check(o.lr > 0 && std::isfinite(o.lr), "classify: --lr must be positive, got {}", o.lr);
  check(o.max_steps >= 0, "classify: --max-steps must be >= 0, got {}", o.max_steps);
  check(o.threads >= 1 && o.threads <= 256, "classify: --threads must be 1..256, got {}",
        o.threads);
  set_num_threads(o.threads, models::kFashionCnnBlasThreads);

  // Standardised with the training set's pixel mean and std (Fashion-MNIST: 0.2860, 0.3530).
  const double mean = 0.2860, std = 0.3530;
  const data::ImageDataset train =
      data::load_image_dataset(find_file(o.data_dir, "train-images-idx3-ubyte"),
                               find_file(o.data_dir, "train-labels-idx1-ubyte"), 10, mean, std);
  const data::ImageDataset test =
      data::load_image_dataset(find_file(o.data_dir, "t10k-images-idx3-ubyte"),
                               find_file(o.data_dir, "t10k-labels-idx1-ubyte"), 10, mean, std);
  fmt::print(stderr, "fashion-mnist: {} training and {} test images\n", train.labels.numel(),
             test.labels.numel());

  Generator gen(o.seed);
  auto net = models::make_fashion_cnn(&gen);
  fmt::print(stderr, "{}", net->summary(Dims{1, 1, 28, 28}));
  optim::SGD opt(net->parameters(), {.lr = o.lr, .momentum = o.momentum});
  const std::int64_t n = train.labels.numel();
  const std::int64_t steps_per_epoch = (n + o.batch - 1) / o.batch;
  std::unique_ptr<optim::CosineAnnealingLR> cosine;
  if (o.schedule == "cosine")
    cosine = std::make_unique<optim::CosineAnnealingLR>(opt, o.epochs * steps_per_epoch);
  else
    check(o.schedule == "none", "classify: unknown --schedule '{}' (none, cosine)", o.schedule);

  double train_seconds = 0, test_acc = 0;
  std::int64_t images = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const Tensor order = randperm(n, &gen);
    // --max-steps shortens each epoch (for benchmarks, as bench/torch_cnn.py --max-steps).
    const std::int64_t steps =
        o.max_steps > 0 ? std::min(o.max_steps, steps_per_epoch) : steps_per_epoch;
    Progress bar(fmt::format("epoch {}/{}", epoch, o.epochs), steps, "img");
    double loss_sum = 0;
    std::int64_t epoch_images = 0;
    for (std::int64_t step = 0; step < steps; ++step) {
      const std::int64_t start = step * o.batch, len = std::min<std::int64_t>(o.batch, n - start);
      const Tensor idx = order.narrow(0, start, len);
      const Variable x(index_select(train.images, 0, idx));
      const Tensor y = index_select(train.labels, 0, idx);
      Variable loss = nn::functional::cross_entropy((*net)(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      if (cosine) cosine->step();
      loss_sum += loss.item();
      epoch_images += len;
      bar.update(step + 1, len,
                 fmt::format("loss {:.4f}", loss_sum / static_cast<double>(step + 1)));
    }
    train_seconds += bar.seconds();
    images += epoch_images;
    bar.finish(fmt::format("loss {:.4f}", loss_sum / static_cast<double>(steps)));
    test_acc = accuracy(*net, test);
    fmt::print(stderr, "epoch {}: test accuracy {:.2f}%\n", epoch, 100.0 * test_acc);
  }
  fmt::print("{{\"epochs\": {}, \"test_accuracy\": {:.4f}, \"train_images_per_s\": {:.1f}}}\n",
             o.epochs, test_acc, static_cast<double>(images) / train_seconds);
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto o = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand("classify", "Train the CNN image classifier on Fashion-MNIST");
  cmd->add_option("--dataset", o->dataset, "Dataset (fashion-mnist)")->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir, "Folder with the IDX files (optionally .gz)")
      ->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "Passes over the training set")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images per step")->capture_default_str();
  cmd->add_option("--lr", o->lr, "Learning rate of SGD")->capture_default_str();
  cmd->add_option("--momentum", o->momentum, "Momentum of SGD")->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "Learning-rate schedule: none or cosine (per step)")
      ->capture_default_str();
  cmd->add_option("--max-steps", o->max_steps, "Steps per epoch at most (0: the whole set)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "OpenBLAS threads")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of initialisation and shuffling")->capture_default_str();
  cmd->callback([o] { run_classify(*o); });
}

}  // namespace seqgrad::cli
