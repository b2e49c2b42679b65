// `seqgrad plot DIR... [--out FILE]`: draws the training curves of DIR/metrics.csv (as written by
// `seqgrad train --out DIR`) into an SVG file: losses and dev sequence accuracy against the step.
// With several DIRs the runs are overlaid, each labelled with its folder name.
// `seqgrad plot --by-length FILE... --out F.svg` draws instead held-out exact match against source
// length from the CSV tables of `seqgrad eval --by-length`, one line per file (its stem).
#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/svg_plot.h"
#include "tensor/error.h"

namespace seqgrad::cli {

namespace {

namespace fs = std::filesystem;

struct PlotOptions {
  std::vector<std::string> dirs;
  std::vector<std::string> by_length;  // CSV files of `seqgrad eval --by-length`
  std::string out;                     // empty: DIR/curves.svg (only with one DIR)
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "plot: cannot read {} (is it a folder written by `seqgrad train --out`?)",
        path.string());
  std::ostringstream text;
  text << in.rdbuf();
  check(!in.bad(), "plot: error reading {}", path.string());
  return text.str();
}

// The folder's own name: "runs/big/" -> "big", "." -> the current folder's name.
std::string run_name(const std::string& dir) {
  fs::path p(dir);
  if (!p.has_filename()) p = p.parent_path();  // trailing separator
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..") {
    std::error_code ec;
    name = fs::weakly_canonical(p, ec).filename().string();
  }
  return name.empty() ? dir : name;
}

// Writes FILE.tmp, then renames it over FILE, so a reader never sees half a file.
void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    check(out.good(), "plot: cannot write {}", tmp.string());
    out << text;
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      fail("plot: error writing {}", tmp.string());
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    fail("plot: cannot rename {} to {}: {}", tmp.string(), path.string(), ec.message());
  }
}

void plot_by_length(const PlotOptions& o) {
  check(!o.out.empty(), "plot --by-length: give the output file with --out FILE.svg");
  check(o.dirs.empty(), "plot: give either run folders or --by-length files, not both");
  std::vector<plot::Series> series;
  for (const std::string& file : o.by_length) {
    auto c = plot::csv_columns(read_text(file), file, {"source_length", "sequence_accuracy"});
    for (double& a : c[1]) a *= 100;
    series.push_back({fs::path(file).stem().string(), c[0], c[1]});
  }
  write_atomically(o.out, plot::line_chart_svg("Exact match by source length", "source length",
                                               "held-out sequence accuracy (%)", series, true));
  fmt::print("{}\n", o.out);
}

void run_plot(const PlotOptions& o) {
  if (!o.by_length.empty()) return plot_by_length(o);
  check(!o.dirs.empty(),
        "plot: give run folders (written by `seqgrad train --out`) or --by-length");
  check(o.dirs.size() == 1 || !o.out.empty(),
        "plot: with several runs, give the output file with --out FILE.svg");
  std::vector<plot::Run> runs;
  std::vector<std::string> names;
  for (const std::string& dir : o.dirs) names.push_back(run_name(dir));
  // Two runs with the same folder name (a/run, b/run) are told apart by the paths as given.
  const bool clash = std::set<std::string>(names.begin(), names.end()).size() != names.size();
  for (std::size_t i = 0; i < o.dirs.size(); ++i) {
    const fs::path csv = fs::path(o.dirs[i]) / "metrics.csv";
    runs.push_back(
        {clash ? o.dirs[i] : names[i], plot::parse_metrics_csv(read_text(csv), csv.string())});
  }
  std::string heading = "Training curves: ";
  for (std::size_t i = 0; i < runs.size(); ++i) heading += (i ? ", " : "") + runs[i].name;
  const fs::path out = o.out.empty() ? fs::path(o.dirs[0]) / "curves.svg" : fs::path(o.out);
  write_atomically(out, plot::training_curves_svg(runs, heading));
  fmt::print("{}\n", out.string());
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto o = std::make_shared<PlotOptions>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Draw the training curves of DIR/metrics.csv as an SVG (several DIRs: overlaid)");
  cmd->add_option("dirs", o->dirs, "Folders written by `seqgrad train --out`");
  cmd->add_option("--by-length", o->by_length,
                  "Instead: CSV files of `seqgrad eval --by-length`, drawn as accuracy by length");
  cmd->add_option("--out", o->out, "SVG file to write (default: DIR/curves.svg)");
  cmd->callback([o] { run_plot(*o); });
}

}  // namespace seqgrad::cli
