#include "cli/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>

#include "tensor/error.h"

namespace seqgrad::plot {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Tableau 10: distinct, colour-blind friendlier than pure primaries, readable on white.
constexpr std::array<const char*, 10> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                  "#bcbd22", "#17becf"};

// Sizes in SVG user units (pixels at 100% zoom).
constexpr double kFontSize = 12, kCharWidth = 7;  // a generous average width of a 12px character
constexpr double kMarginLeft = 72, kMarginRight = 20, kMarginTop = 40, kMarginBottom = 52;
constexpr int kMaxXIntervals = 8, kMaxYIntervals = 6;
constexpr std::size_t kMaxPointsWithMarkers = 60;  // more points than this: just the line

// A coordinate with one decimal: plenty at screen resolution and keeps the file small.
std::string num(double v) { return fmt::format("{:.1f}", v); }

void append(std::string& out, std::string_view text) { out.append(text); }

template <class... Args>
void append(std::string& out, fmt::format_string<Args...> format, Args&&... args) {
  fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
}

bool finite_point(const Series& s, std::size_t i) {
  return std::isfinite(s.x[i]) && std::isfinite(s.y[i]);
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  bool empty() const { return lo > hi; }
  void include(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
};

// A range that nice_ticks accepts: a single value v gets v +- 10%, and 0 gets -1..1 (or 0..1
// when the axis starts at zero).
Range widened(Range r, bool from_zero) {
  if (r.hi - r.lo <= 1e-12 * std::max(std::abs(r.lo), std::abs(r.hi))) {
    const double v = r.lo, d = v != 0 ? std::abs(v) * 0.1 : 1.0;
    r.lo = v == 0 && from_zero ? 0 : v - d;
    r.hi = v + d;
  }
  return r;
}

// One chart to draw into a rectangle of a larger document.
struct Chart {
  std::string title, x_label, y_label;
  const std::vector<Series>* series = nullptr;
  bool y_from_zero = false;
  std::optional<Range> y_at_least;  // the y axis covers at least this range (e.g. 0-100 %)
};

struct Box {
  double x = 0, y = 0, w = 0, h = 0;
  bool contains(double px, double py) const {
    return px >= x && px <= x + w && py >= y && py <= y + h;
  }
};

void check_series(const std::vector<Series>& series, const std::string& title) {
  check(!series.empty(), "line chart '{}': no series to draw", title);
  bool any_finite = false;
  for (const Series& s : series) {
    check(!s.x.empty(), "line chart '{}': series '{}' has no points", title, s.label);
    check(s.x.size() == s.y.size(), "line chart '{}': series '{}' has {} x values but {} y values",
          title, s.label, s.x.size(), s.y.size());
    for (std::size_t i = 0; i < s.x.size(); ++i) any_finite = any_finite || finite_point(s, i);
  }
  check(any_finite, "line chart '{}': no point has finite coordinates", title);
}

// Picks the corner of the plot area where the legend box hides the fewest drawn points,
// sampling along each line every few pixels. Ties go to top right, top left, bottom right,
// bottom left (in that order).
Box legend_box(const Box& plot, double w, double h,
               const std::vector<std::vector<std::pair<double, double>>>& lines) {
  constexpr double kInset = 8;
  const std::array<Box, 4> corners = {
      Box{plot.x + plot.w - w - kInset, plot.y + kInset, w, h},
      Box{plot.x + kInset, plot.y + kInset, w, h},
      Box{plot.x + plot.w - w - kInset, plot.y + plot.h - h - kInset, w, h},
      Box{plot.x + kInset, plot.y + plot.h - h - kInset, w, h}};
  std::array<std::size_t, 4> hidden{};
  for (const auto& line : lines) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      const auto [x0, y0] = line[i];
      const auto [x1, y1] = i + 1 < line.size() ? line[i + 1] : line[i];
      const int samples = 1 + static_cast<int>(std::hypot(x1 - x0, y1 - y0) / 3);
      for (int k = 0; k < samples; ++k) {
        const double t = static_cast<double>(k) / samples;
        for (std::size_t c = 0; c < corners.size(); ++c)
          if (corners[c].contains(x0 + t * (x1 - x0), y0 + t * (y1 - y0))) ++hidden[c];
      }
    }
  }
  const auto best = std::min_element(hidden.begin(), hidden.end()) - hidden.begin();
  return corners[static_cast<std::size_t>(best)];
}

std::string colour_of(const Series& s, std::size_t index) {
  const std::size_t i = s.colour >= 0 ? static_cast<std::size_t>(s.colour) : index;
  return kPalette[i % kPalette.size()];
}

const char* dash_attribute(const Series& s) { return s.dashed ? " stroke-dasharray=\"7 4\"" : ""; }

// Draws `chart` into `frame` of the document being written to `out`.
void draw_chart(std::string& out, const Chart& chart, const Box& frame) {
  const std::vector<Series>& series = *chart.series;
  check_series(series, chart.title);

  // Ranges of the finite points, then their ticks.
  Range xr, yr;
  for (const Series& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (finite_point(s, i)) {
        xr.include(s.x[i]);
        yr.include(s.y[i]);
      }
  if (chart.y_from_zero) yr.include(0);
  if (chart.y_at_least) {
    yr.include(chart.y_at_least->lo);
    yr.include(chart.y_at_least->hi);
  }
  xr = widened(xr, false);
  yr = widened(yr, chart.y_from_zero);
  const Ticks xt = nice_ticks(xr.lo, xr.hi, kMaxXIntervals);
  const Ticks yt = nice_ticks(yr.lo, yr.hi, kMaxYIntervals);
  const double x_lo = xt.values.front(), x_hi = xt.values.back();
  const double y_lo = yt.values.front(), y_hi = yt.values.back();

  const Box plot{frame.x + kMarginLeft, frame.y + kMarginTop, frame.w - kMarginLeft - kMarginRight,
                 frame.h - kMarginTop - kMarginBottom};
  auto px = [&](double x) { return plot.x + (x - x_lo) / (x_hi - x_lo) * plot.w; };
  auto py = [&](double y) { return plot.y + plot.h - (y - y_lo) / (y_hi - y_lo) * plot.h; };

  append(out, "<g>\n");
  append(out,
         "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"15\" "
         "font-weight=\"bold\">{}</text>\n",
         num(frame.x + frame.w / 2), num(frame.y + 24), xml_escape(chart.title));

  // Grid lines and tick labels.
  append(out, "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
  for (double v : xt.values)
    append(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", num(px(v)), num(plot.y),
           num(plot.y + plot.h));
  for (double v : yt.values)
    append(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>\n", num(plot.x), num(py(v)),
           num(plot.x + plot.w));
  append(out, "</g>\n<g fill=\"#333333\">\n");
  for (double v : xt.values)
    append(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(px(v)),
           num(plot.y + plot.h + 18), xml_escape(format_tick(v, xt.step)));
  for (double v : yt.values)
    append(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", num(plot.x - 8),
           num(py(v) + kFontSize * 0.35), xml_escape(format_tick(v, yt.step)));
  append(out, "</g>\n");

  // Axis labels and the frame of the plot area.
  append(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
         num(plot.x + plot.w / 2), num(plot.y + plot.h + 40), xml_escape(chart.x_label));
  append(out,
         "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}"
         "</text>\n",
         num(frame.x + 18), num(plot.y + plot.h / 2), xml_escape(chart.y_label));
  append(out,
         "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#555555\"/>\n",
         num(plot.x), num(plot.y), num(plot.w), num(plot.h));

  // The series: a line through the finite points, and dots when there are few of them.
  std::vector<std::vector<std::pair<double, double>>> lines;
  for (std::size_t si = 0; si < series.size(); ++si) {
    const Series& s = series[si];
    std::vector<std::pair<double, double>> points;
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (finite_point(s, i)) points.emplace_back(px(s.x[i]), py(s.y[i]));
    const std::string colour = colour_of(s, si);
    if (points.size() >= 2) {
      append(out,
             "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} "
             "stroke-linejoin=\"round\" points=\"",
             colour, dash_attribute(s));
      for (std::size_t i = 0; i < points.size(); ++i)
        append(out, "{}{},{}", i ? " " : "", num(points[i].first), num(points[i].second));
      append(out, "\"/>\n");
    }
    if (!points.empty() && points.size() <= kMaxPointsWithMarkers) {
      append(out, "<g fill=\"{}\">\n", colour);
      for (const auto& [x, y] : points)
        append(out, "<circle cx=\"{}\" cy=\"{}\" r=\"{}\"/>\n", num(x), num(y),
               points.size() == 1 ? 4 : 2.5);
      append(out, "</g>\n");
    }
    lines.push_back(std::move(points));
  }

  // The legend: a sample of each line and its label, in the emptiest corner.
  constexpr double kRow = 18, kSample = 26, kPad = 8;
  std::size_t longest = 0;
  for (const Series& s : series) longest = std::max(longest, s.label.size());
  const double w = kPad + kSample + 6 + static_cast<double>(longest) * kCharWidth + kPad;
  const double h = kPad + kRow * static_cast<double>(series.size()) + kPad - 4;
  const Box box = legend_box(plot, w, h, lines);
  append(out,
         "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"white\" fill-opacity=\"0.85\" "
         "stroke=\"#bbbbbb\" rx=\"3\"/>\n",
         num(box.x), num(box.y), num(box.w), num(box.h));
  for (std::size_t si = 0; si < series.size(); ++si) {
    const Series& s = series[si];
    const double y = box.y + kPad + kRow * (static_cast<double>(si) + 0.5);
    append(out,
           "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
           num(box.x + kPad), num(y), num(box.x + kPad + kSample), num(y), colour_of(s, si),
           dash_attribute(s));
    append(out, "<text x=\"{}\" y=\"{}\">{}</text>\n", num(box.x + kPad + kSample + 6),
           num(y + kFontSize * 0.35), xml_escape(s.label));
  }
  append(out, "</g>\n");
}

std::string svg_document(double w, double h, const std::string& title, const std::string& body) {
  std::string out;
  append(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  append(out,
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
         "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
         "font-size=\"{2}\">\n",
         num(w), num(h), kFontSize);
  append(out, "<title>{}</title>\n", xml_escape(title));
  append(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  out += body;
  append(out, "</svg>\n");
  return out;
}

// Splits text into lines, dropping a '\r' before each '\n'.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  for (std::size_t start = 0;;) {
    const std::size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

std::string join(const std::vector<std::string_view>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

std::string best_accuracy_note(const TrainingMetrics& m, bool with_step) {
  std::size_t best = m.step.size();
  for (std::size_t i = 0; i < m.step.size(); ++i)
    if (std::isfinite(m.dev_sequence_accuracy[i]) &&
        (best == m.step.size() || m.dev_sequence_accuracy[i] > m.dev_sequence_accuracy[best]))
      best = i;
  if (best == m.step.size()) return "";
  const std::string pct = fmt::format("{:.1f}%", 100 * m.dev_sequence_accuracy[best]);
  return with_step ? fmt::format(" (best {} at step {})", pct, m.step[best])
                   : fmt::format(" (best {})", pct);
}

}  // namespace

Ticks nice_ticks(double lo, double hi, int max_intervals) {
  check(std::isfinite(lo) && std::isfinite(hi) && lo < hi,
        "nice_ticks: need finite lo < hi, got [{}, {}]", lo, hi);
  check(max_intervals >= 2 && max_intervals <= 1000,
        "nice_ticks: max_intervals must be 2..1000, got {}", max_intervals);
  // Steps m x 10^e for m in 1, 2, 5, starting at the power of ten just below the smallest
  // possible step. Dividing by 10^-e (rather than multiplying by 10^e) keeps 0.2, 0.05, ...
  // the doubles closest to those decimals.
  auto decimal = [](double m, int e) {
    return e >= 0 ? m * std::pow(10.0, e) : m / std::pow(10.0, -e);
  };
  constexpr double kTolerance = 1e-9;  // in steps: lo = 3 x step within rounding is on a tick
  int e = static_cast<int>(std::floor(std::log10((hi - lo) / max_intervals)));
  for (;; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double step = decimal(m, e);
      const double first = std::floor(lo / step + kTolerance);
      const double last = std::ceil(hi / step - kTolerance);
      if (last - first > max_intervals) continue;
      Ticks t{step, {}};
      for (double k = first; k <= last; ++k) t.values.push_back(decimal(k * m, e));
      return t;
    }
  }
}

std::string format_tick(double value, double step) {
  int decimals = 0;
  while (decimals < 12) {
    const double scaled = std::abs(step) * std::pow(10.0, decimals);
    if (std::abs(scaled - std::round(scaled)) <= 1e-6 * std::max(1.0, scaled)) break;
    ++decimals;
  }
  std::string s = fmt::format("{:.{}f}", value, decimals);
  if (s.front() == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string line_chart_svg(const std::string& title, const std::string& x_label,
                           const std::string& y_label, const std::vector<Series>& series,
                           bool y_from_zero) {
  constexpr double kWidth = 640, kHeight = 420;
  std::string body;
  draw_chart(body, Chart{title, x_label, y_label, &series, y_from_zero, std::nullopt},
             Box{0, 0, kWidth, kHeight});
  return svg_document(kWidth, kHeight, title, body);
}

std::vector<std::vector<double>> csv_columns(const std::string& csv_text,
                                             const std::string& source_name,
                                             const std::vector<std::string>& names) {
  const std::vector<std::string_view> lines = split_lines(csv_text);
  check(!lines.empty() && !trim(lines[0]).empty(), "{}: line 1: no header (the file is empty)",
        source_name);
  const std::vector<std::string_view> header = split_fields(lines[0]);
  std::vector<std::size_t> index;
  for (const std::string& name : names) {
    const auto it = std::find(header.begin(), header.end(), name);
    check(it != header.end(), "{}: line 1: no column '{}' in the header ({})", source_name, name,
          join(header, ","));
    index.push_back(static_cast<std::size_t>(it - header.begin()));
  }
  std::vector<std::vector<double>> columns(names.size());
  for (std::size_t n = 1; n < lines.size(); ++n) {
    const std::string_view line = trim(lines[n]);
    if (line.empty() || line.front() == '{') continue;  // `seqgrad eval`'s JSON summary line
    const std::size_t line_number = n + 1;
    const std::vector<std::string_view> fields = split_fields(lines[n]);
    check(fields.size() == header.size(), "{}: line {}: {} fields, but the header has {}",
          source_name, line_number, fields.size(), header.size());
    for (std::size_t k = 0; k < names.size(); ++k) {
      const std::string_view f = fields[index[k]];
      double v = kNaN;
      if (!f.empty()) {
        const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
        check(ec == std::errc() && end == f.data() + f.size(),
              "{}: line {}: column '{}': '{}' is not a number", source_name, line_number, names[k],
              f);
      }
      columns[k].push_back(v);
    }
  }
  check(!columns[0].empty(), "{}: no data rows after the header", source_name);
  return columns;
}

TrainingMetrics parse_metrics_csv(const std::string& csv_text, const std::string& source_name) {
  auto c = csv_columns(csv_text, source_name,
                       {"step", "train_loss", "dev_loss", "dev_sequence_accuracy"});
  return {std::move(c[0]), std::move(c[1]), std::move(c[2]), std::move(c[3])};
}

std::string training_curves_svg(const std::vector<Run>& runs, const std::string& heading) {
  check(!runs.empty(), "training curves: no runs to draw");
  const bool several = runs.size() > 1;
  std::vector<Series> losses, accuracy;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const TrainingMetrics& m = runs[i].metrics;
    const std::string& name = runs[i].name;
    std::vector<double> percent;
    for (double a : m.dev_sequence_accuracy) percent.push_back(100 * a);
    const int colour = static_cast<int>(i);
    if (several) {
      losses.push_back({name + " train", m.step, m.train_loss, true, colour});
      losses.push_back({name + " dev", m.step, m.dev_loss, false, colour});
      accuracy.push_back({name + best_accuracy_note(m, false), m.step, percent, false, colour});
    } else {
      losses.push_back({"train loss", m.step, m.train_loss, false, 0});
      losses.push_back({"dev loss", m.step, m.dev_loss, false, 1});
      accuracy.push_back(
          {"dev sequence accuracy" + best_accuracy_note(m, true), m.step, percent, false, 2});
    }
  }
  constexpr double kChartWidth = 580, kChartHeight = 420, kHeading = 40;
  std::string body;
  append(body, "<text x=\"{}\" y=\"26\" text-anchor=\"middle\" font-size=\"17\">{}</text>\n",
         num(kChartWidth), xml_escape(heading));
  draw_chart(body, Chart{"Loss", "step", "loss", &losses, true, std::nullopt},
             Box{0, kHeading, kChartWidth, kChartHeight});
  draw_chart(body,
             Chart{"Dev sequence accuracy", "step", "sequence accuracy (%)", &accuracy, true,
                   Range{0, 100}},
             Box{kChartWidth, kHeading, kChartWidth, kChartHeight});
  return svg_document(2 * kChartWidth, kHeading + kChartHeight, heading, body);
}

std::string training_curves_svg(const std::string& metrics_csv_text,
                                const std::string& source_name) {
  return training_curves_svg({Run{source_name, parse_metrics_csv(metrics_csv_text, source_name)}},
                             source_name);
}

}  // namespace seqgrad::plot
