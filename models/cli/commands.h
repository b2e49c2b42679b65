// The subcommands of the `seqgrad` program. Each registers its options on a CLI11 app and runs.
#pragma once

#include <CLI/CLI.hpp>

namespace seqgrad::cli {

void add_classify_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_commands(CLI::App& app);  // eval, translate, info
void add_plot_command(CLI::App& app);

}  // namespace seqgrad::cli
