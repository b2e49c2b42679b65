#include "cli/svg_heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <utility>

#include "cli/svg_plot.h"
#include "tensor/error.h"

namespace seqgrad::plot {

namespace {

// Matplotlib's "Blues": a light-to-dark ramp in one hue, so that a larger weight always reads as
// a darker cell, in print and for colour-blind readers too.
constexpr std::array<std::array<int, 3>, 9> kRamp = {{{247, 251, 255},
                                                      {222, 235, 247},
                                                      {198, 219, 239},
                                                      {158, 202, 225},
                                                      {107, 174, 214},
                                                      {66, 146, 198},
                                                      {33, 113, 181},
                                                      {8, 81, 156},
                                                      {8, 48, 107}}};

constexpr double kTitleSize = 14, kAxisSize = 12;
constexpr double kEmWidth = 0.62;  // a generous average character width, in ems

std::string coord(double v) { return fmt::format("{:.1f}", v); }

template <class... Args>
void put(std::string& out, fmt::format_string<Args...> format, Args&&... args) {
  fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
}

// The length of a valid UTF-8 sequence starting at s[0] (whose code point XML allows), else 0.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto continuation = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return c >= 0x20 || c == '\t' ? 1 : 0;
  std::size_t n = 0;
  std::uint32_t cp = 0, min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  for (std::size_t i = 1; i < n; ++i) {
    if (!continuation(i)) return 0;
    cp = cp << 6 | (b(i) & 0x3F);
  }
  const bool allowed = cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
                       cp != 0xFFFE && cp != 0xFFFF;
  return allowed ? n : 0;
}

// Code points of text that xml_text has made valid.
std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

double text_width(const std::string& text, double font_size) {
  return static_cast<double>(code_points(xml_text(text))) * kEmWidth * font_size;
}

void check_heatmap(const Heatmap& h) {
  check(!h.rows.empty() && !h.columns.empty(), "heatmap '{}': needs rows and columns, got {} x {}",
        h.title, h.rows.size(), h.columns.size());
  check(h.values.size() == h.rows.size() * h.columns.size(),
        "heatmap '{}': {} values for {} rows x {} columns", h.title, h.values.size(), h.rows.size(),
        h.columns.size());
  for (std::size_t i = 0; i < h.values.size(); ++i)
    check(std::isfinite(h.values[i]), "heatmap '{}': value {} (row {}, column {}) is {}", h.title,
          i, i / h.columns.size(), i % h.columns.size(), h.values[i]);
}

}  // namespace

std::string heatmap_colour(double v) {
  const double x = std::clamp(std::isfinite(v) ? v : 0.0, 0.0, 1.0) * (kRamp.size() - 1);
  const auto i = std::min(static_cast<std::size_t>(x), kRamp.size() - 2);
  const double f = x - static_cast<double>(i);
  std::array<int, 3> rgb{};
  for (std::size_t c = 0; c < 3; ++c)
    rgb[c] = static_cast<int>(std::lround(kRamp[i][c] + f * (kRamp[i + 1][c] - kRamp[i][c])));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

std::string xml_text(const std::string& text) {
  std::string valid;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t n = utf8_sequence(rest);
    if (n == 0) {
      valid += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      rest.remove_prefix(1);
    } else {
      valid.append(rest.substr(0, n));
      rest.remove_prefix(n);
    }
  }
  return xml_escape(valid);
}

std::string heatmap_svg(const Heatmap& h) {
  check_heatmap(h);
  const std::size_t R = h.rows.size(), C = h.columns.size();
  // Cells shrink as the sequences grow so that the picture stays around 600 pixels, within a
  // size that still takes a label.
  const double cell = std::clamp(560.0 / static_cast<double>(std::max(R, C)), 8.0, 28.0);
  const double font = std::min(12.0, std::floor(cell * 0.75));
  double column_label = 0, row_label = 0;
  for (const std::string& c : h.columns) column_label = std::max(column_label, text_width(c, font));
  for (const std::string& r : h.rows) row_label = std::max(row_label, text_width(r, font));
  const bool rotated = column_label > cell - 2;  // too wide to stand side by side

  const double grid_x = 34 + row_label + 8;
  const double grid_y = 58 + (rotated ? column_label : font) + 8;
  const double grid_w = cell * static_cast<double>(C), grid_h = cell * static_cast<double>(R);
  const double bar_x = grid_x + grid_w + 24, bar_w = 14;
  const double bar_h = std::max(grid_h, 120.0);
  const double width = std::max(bar_x + bar_w + 44, text_width(h.title, kTitleSize) + 24);
  const double height = grid_y + std::max(grid_h, bar_h) + 20;

  std::string out;
  put(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  put(out,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
      "font-size=\"{2}\">\n",
      coord(width), coord(height), kAxisSize);
  put(out, "<title>{}</title>\n", xml_text(h.title));
  put(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  put(out,
      "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"{}\" "
      "font-weight=\"bold\">{}</text>\n",
      coord(width / 2), kTitleSize, xml_text(h.title));

  // The axes' names: the columns' above their labels, the rows' turned along the left edge.
  put(out, "<text x=\"{}\" y=\"46\" text-anchor=\"middle\">{}</text>\n", coord(grid_x + grid_w / 2),
      xml_text(h.x_label));
  put(out,
      "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}"
      "</text>\n",
      coord(18), coord(grid_y + grid_h / 2), xml_text(h.y_label));

  // Token labels: columns above the grid (read upwards when rotated), rows right-aligned to its
  // left.
  put(out, "<g font-size=\"{}\" fill=\"#333333\">\n", coord(font));
  for (std::size_t c = 0; c < C; ++c) {
    const double x = grid_x + cell * (static_cast<double>(c) + 0.5), y = grid_y - 6;
    if (rotated)
      put(out,
          "<text x=\"{0}\" y=\"{1}\" dy=\"0.35em\" transform=\"rotate(-90 {0} {1})\">{2}"
          "</text>\n",
          coord(x), coord(y), xml_text(h.columns[c]));
    else
      put(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", coord(x), coord(y),
          xml_text(h.columns[c]));
  }
  for (std::size_t r = 0; r < R; ++r)
    put(out, "<text x=\"{}\" y=\"{}\" dy=\"0.35em\" text-anchor=\"end\">{}</text>\n",
        coord(grid_x - 6), coord(grid_y + cell * (static_cast<double>(r) + 0.5)),
        xml_text(h.rows[r]));
  put(out, "</g>\n");

  // The cells, each with its value as a tooltip.
  put(out, "<g stroke=\"none\">\n");
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < C; ++c) {
      const double v = h.values[r * C + c];
      put(out,
          "<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">"
          "<title>{} / {}: {:.3f}</title></rect>\n",
          coord(grid_x + cell * static_cast<double>(c)),
          coord(grid_y + cell * static_cast<double>(r)), coord(cell), coord(cell),
          heatmap_colour(v), xml_text(h.rows[r]), xml_text(h.columns[c]), v);
    }
  put(out, "</g>\n");
  put(out,
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#555555\"/>\n",
      coord(grid_x), coord(grid_y), coord(grid_w), coord(grid_h));

  // The colour scale: the same ramp as a gradient, 0 at the bottom, 1 at the top.
  put(out, "<defs><linearGradient id=\"heatmap-scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n");
  for (std::size_t i = 0; i < kRamp.size(); ++i) {
    const double at = static_cast<double>(i) / static_cast<double>(kRamp.size() - 1);
    put(out, "<stop offset=\"{:.3f}\" stop-color=\"{}\"/>\n", at, heatmap_colour(at));
  }
  put(out, "</linearGradient></defs>\n");
  put(out,
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#heatmap-scale)\" "
      "stroke=\"#555555\"/>\n",
      coord(bar_x), coord(grid_y), coord(bar_w), coord(bar_h));
  put(out, "<g fill=\"#333333\">\n");
  for (const auto& [tick, label] : std::array<std::pair<double, const char*>, 5>{
           {{0.0, "0"}, {0.25, "0.25"}, {0.5, "0.5"}, {0.75, "0.75"}, {1.0, "1"}}}) {
    const double y = grid_y + bar_h * (1 - tick);
    put(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#555555\"/>\n",
        coord(bar_x + bar_w), coord(y), coord(bar_x + bar_w + 4));
    put(out, "<text x=\"{}\" y=\"{}\" dy=\"0.35em\">{}</text>\n", coord(bar_x + bar_w + 7),
        coord(y), label);
  }
  put(out, "</g>\n</svg>\n");
  return out;
}

}  // namespace seqgrad::plot
