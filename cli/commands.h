// The `seqgrad` program: its subcommands, each registering its options on a CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/app.h"

namespace seqgrad::cli {

void add_classify_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_commands(CLI::App& app);  // eval, translate, info
void add_plot_command(CLI::App& app);

}  // namespace seqgrad::cli
