#include <dlfcn.h>
#include <fmt/core.h>

#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "tensor/cpu.h"
#include "tensor/error.h"

namespace seqgrad::cli {

std::filesystem::path fresh_run_folder(const std::string& name) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  const std::filesystem::path runs("runs");
  std::filesystem::path dir = runs / fmt::format("{}-{}", stamp, name);
  for (int i = 2; std::filesystem::exists(dir); ++i)
    dir = runs / fmt::format("{}-{}-{}", stamp, name, i);
  std::filesystem::create_directories(dir);
  // runs/latest is a convenience: a symlink is moved to the new run, anything else left alone.
  const std::filesystem::path latest = runs / "latest";
  std::error_code ec;
  if (std::filesystem::is_symlink(latest)) std::filesystem::remove(latest, ec);
  if (!std::filesystem::exists(latest))
    std::filesystem::create_directory_symlink(dir.filename(), latest, ec);
  return dir;
}

int default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 256u));
}

namespace {

// The values of every `--plugin FILE` / `--plugin=FILE` on the command line.
std::vector<std::string> plugin_arguments(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--plugin" && i + 1 < argc)
      files.push_back(argv[++i]);
    else if (arg.rfind("--plugin=", 0) == 0)
      files.push_back(arg.substr(9));
  }
  return files;
}

// A plugin is a shared library whose static objects register models or cells when it is loaded
// (examples/custom_model.cpp). It uses the program's own seqgrad: see docs/new-model.md.
void load_plugin(const std::string& file) {
  // A bare name would make dlopen search the library path instead of the folder given.
  const std::string path = file.find('/') == std::string::npos ? "./" + file : file;
  check(dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) != nullptr, "--plugin {}: {}", file,
        dlerror());
}

}  // namespace

int run(int argc, char** argv) {
  try {
    for (const std::string& file : plugin_arguments(argc, argv)) load_plugin(file);
    CLI::App app{
        "seqgrad: train and evaluate small neural networks with seqgrad's autodiff engine"};
    app.require_subcommand(1);
    // With the kernel path this run takes (tensor/cpu.h) and the CPU it was chosen on.
    app.set_version_flag("--version", std::function<std::string()>([] {
                           return fmt::format("seqgrad {}\nkernels: {} (CPU: {}; {})",
                                              SEQGRAD_VERSION, cpu_path_name(cpu_path()),
                                              cpu_model_name(), cpu_vector_features());
                         }));
    std::vector<std::string> plugins;  // loaded above; declared so that --help shows it
    app.add_option("--plugin", plugins,
                   "Load a shared library that registers models or cells (before the command)");
    add_classify_command(app);
    add_train_command(app);
    add_eval_commands(app);
    add_plot_command(app);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
      // One line, like every other error.
      fmt::print(stderr, "seqgrad: error: {} (see --help)\n", e.what());
      return e.get_exit_code();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "seqgrad: error: {}\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace seqgrad::cli
