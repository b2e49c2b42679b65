// seqgrad: the command-line program. `seqgrad --help` lists the subcommands.
#include <fmt/core.h>

#include "models/cli/commands.h"
#include "tensor/error.h"

int main(int argc, char** argv) {
  CLI::App app{"seqgrad: train and evaluate small neural networks with seqgrad's autodiff engine"};
  app.require_subcommand(1);
  seqgrad::cli::add_classify_command(app);
  seqgrad::cli::add_train_command(app);
  seqgrad::cli::add_eval_commands(app);
  seqgrad::cli::add_plot_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const seqgrad::Error& e) {
    fmt::print(stderr, "seqgrad: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "seqgrad: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
