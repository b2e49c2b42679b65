// The `seqgrad` program: its subcommands, each registering its options on a CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace seqgrad::cli {

void add_classify_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_commands(CLI::App& app);  // eval, translate, info
void add_plot_command(CLI::App& app);

// The machine's cores (what --threads defaults to).
int default_threads();

// The whole program: loads the --plugin libraries (before the options are declared, so that a
// plugin's models bring their options), parses, runs the subcommand. Errors print one line and
// return 1.
int run(int argc, char** argv);

}  // namespace seqgrad::cli
