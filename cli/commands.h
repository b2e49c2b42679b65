// The `seqgrad` program: its subcommands, each registering its options on a CLI11 app.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "cli/app.h"
#include "nn/checkpoint.h"

namespace seqgrad::cli {

void add_classify_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_commands(CLI::App& app);  // eval, translate, info
void add_plot_command(CLI::App& app);

// A fresh run folder runs/<date>-<time>-<name> (numbered if taken), with runs/latest pointing at
// it.
std::filesystem::path fresh_run_folder(const std::string& name);

// Checkpoints of `seqgrad classify`, which `seqgrad eval` scores on the test images in data_dir.
bool is_image_classifier(const nn::SafetensorsFile& file);
void eval_image_classifier(const nn::SafetensorsFile& file, const std::string& path,
                           const std::string& data_dir);

}  // namespace seqgrad::cli
