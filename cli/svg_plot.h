// Line charts as SVG text, written directly (no plotting library): enough to look at training
// curves in a browser. line_chart_svg draws one chart (axes with 1-2-5 ticks, grid, legend);
// training_curves_svg turns one or more metrics.csv files (as `seqgrad train` writes them) into
// two charts side by side: the losses and the dev sequence accuracy, both against the step.
#pragma once

#include <string>
#include <vector>

namespace seqgrad::plot {

struct Series {
  std::string label;
  std::vector<double> x, y;  // same length; points with a NaN or infinite coordinate are skipped
  bool dashed = false;       // drawn with a dashed line (e.g. training loss next to dev loss)
  int colour = -1;           // index into the palette; -1: the series' position in the list
};

// Tick values for an axis covering [lo, hi] (lo < hi, both finite): the step is the smallest of
// 1, 2, 5 x 10^k giving at most `max_intervals` intervals, and the ticks run from the multiple of
// the step at or below lo to the one at or above hi. E.g. [0.5, 3.2] -> 0, 1, 2, 3, 4 (max 4)
// or 0.5, 1, ..., 3.5 (max 6).
struct Ticks {
  double step = 0;
  std::vector<double> values;  // ascending; the axis spans values.front() .. values.back()
};
Ticks nice_ticks(double lo, double hi, int max_intervals = 6);

// A tick value with just the decimals its step needs: 0.2 -> "0.2", 100 -> "100", 1.50 -> "1.5".
std::string format_tick(double value, double step);

// Text safe inside an XML element or attribute: & < > " ' become entities.
std::string xml_escape(const std::string& text);

// A complete SVG document with one line chart. The x range covers every finite point; so does
// the y range, extended down (or up) to 0 when y_from_zero. A single point, or all values equal,
// still gets a small range around them. Throws Error for no series, a series without points or
// with x and y of different lengths, or when no point at all is finite.
std::string line_chart_svg(const std::string& title, const std::string& x_label,
                           const std::string& y_label, const std::vector<Series>& series,
                           bool y_from_zero);

// The named columns of CSV text, each as one value per data row, found by their header names
// (order free, other columns ignored). An empty field reads as NaN; lines starting with '{' (the
// JSON line `seqgrad eval` ends with) are skipped. Throws Error naming source_name and the line
// for a missing column, a row with the wrong number of fields, a field that is not a number, or
// no data rows.
std::vector<std::vector<double>> csv_columns(const std::string& csv_text,
                                             const std::string& source_name,
                                             const std::vector<std::string>& names);

// The columns of metrics.csv that the training curves use (one entry per CSV row).
struct TrainingMetrics {
  std::vector<double> step, train_loss, dev_loss, dev_sequence_accuracy;  // accuracy in 0..1
};

// Parses metrics.csv text with csv_columns (same rules and errors).
TrainingMetrics parse_metrics_csv(const std::string& csv_text, const std::string& source_name);

struct Run {
  std::string name;  // legend label when several runs are drawn
  TrainingMetrics metrics;
};

// One SVG with a heading and two charts side by side: train and dev loss against the step, and
// dev sequence accuracy (in %, on a 0-100 axis) against the step. Several runs are overlaid:
// one colour per run, training loss dashed and dev loss solid.
std::string training_curves_svg(const std::vector<Run>& runs, const std::string& heading);

// The same for the text of one metrics.csv, with source_name as the heading.
std::string training_curves_svg(const std::string& metrics_csv_text,
                                const std::string& source_name);

}  // namespace seqgrad::plot
